import { z } from 'zod';
import type { NumberedEvent } from '../events/registry.js';

/** `interrupted`: the job's worker stopped before the job finished (see jobs/lost-session.ts). */
export const sessionStatusSchema = z.enum(['running', 'completed', 'failed', 'aborted', 'interrupted']);
export type SessionStatus = z.infer<typeof sessionStatusSchema>;

/**
 * What the store keeps about a session besides its event log and archive. Never
 * holds secrets. A schema, because GET /sessions/:id answers with it (see http/openapi.ts).
 */
export const sessionMetadataSchema = z.object({
  sessionId: z.string(),
  provider: z.string(),
  status: sessionStatusSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  title: z.string().optional(),
  /** The session's own git branch, when it has a repository. */
  branch: z.string().optional(),
  /** The agent's own conversation id, used to resume it. */
  agentSessionId: z.string().optional(),
  /** Highest event id in the log; the next event gets this + 1. */
  lastEventId: z.number().int(),
  turns: z.number().int(),
  /** The repository and where the session's clone is (never a token). */
  github: z
    .object({
      repoUrl: z.string(),
      directory: z.string().optional(),
      baseBranch: z.string().optional(),
      repoPath: z.string().optional(),
    })
    .optional(),
  lastError: z.object({ code: z.string(), message: z.string() }).optional(),
  /** Whether a workspace archive was saved. */
  hasArchive: z.boolean(),
  /** The backend the session is kept in. */
  storage: z.enum(['fs', 's3']),
});
export type SessionMetadata = z.infer<typeof sessionMetadataSchema>;

/**
 * A session store backend. Writes are atomic: a crash mid-write leaves the
 * previous version in place.
 */
export interface SessionStore {
  readonly kind: 'fs' | 's3';
  /** Prepares the backend (folders, bucket). */
  init(): Promise<void>;
  readMetadata(sessionId: string): Promise<SessionMetadata | undefined>;
  writeMetadata(metadata: SessionMetadata): Promise<void>;
  listSessions(): Promise<SessionMetadata[]>;
  /** The stored event log in id order; empty when the session has none. */
  readEvents(sessionId: string): Promise<NumberedEvent[]>;
  /** Replaces the stored event log. */
  writeEvents(sessionId: string, events: readonly NumberedEvent[]): Promise<void>;
  /** Archives the contents of `sourceDir` (workspace and agent state) as the session's snapshot. */
  saveArchive(sessionId: string, sourceDir: string): Promise<void>;
  /** Restores the snapshot into `targetDir` (emptied first); false when the session has none. */
  restoreArchive(sessionId: string, targetDir: string): Promise<boolean>;
  /** Removes every trace of the session; false when it did not exist. */
  deleteSession(sessionId: string): Promise<boolean>;
  /**
   * Takes the session's lock for `ttlMs`, so only one worker runs it at a
   * time. Undefined when another holder's lease is still live (an expired
   * lease is taken over). Holding a lease is exclusive, even for the same
   * `owner` string.
   */
  acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
}

/**
 * A held session lock. Renew it well before its time-to-live runs out, one call
 * at a time: a renewal racing another one of the same holder acts on the same
 * version and can only lose (see jobs/lease-keeper.ts).
 */
export interface Lease {
  readonly sessionId: string;
  readonly owner: string;
  /** When the lease lapses unless renewed (epoch ms, by the holder's clock). */
  readonly expiresAt: number;
  /**
   * Extends the lease by its time-to-live, even past its expiry as long as nobody
   * took it over; false when it was lost (taken over, or deleted). Throws when the
   * store could not be asked, which says nothing about who holds it.
   */
  renew(): Promise<boolean>;
  /** Gives the lease up; a no-op when it was already lost. */
  release(): Promise<void>;
}
