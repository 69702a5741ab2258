import type { NumberedEvent } from '../events/types.js';

export type SessionStatus = 'running' | 'completed' | 'failed' | 'aborted';

/** What the store keeps about a session besides its event log and archive. Never holds secrets. */
export interface SessionMetadata {
  sessionId: string;
  provider: string;
  status: SessionStatus;
  createdAt: string;
  updatedAt: string;
  title?: string;
  branch?: string;
  /** The agent's own conversation id, used to resume it. */
  agentSessionId?: string;
  /** Highest event id in the log; the next event gets this + 1. */
  lastEventId: number;
  turns: number;
  github?: { repoUrl: string; branch?: string; directory?: string };
  lastError?: { code: string; message: string };
  /** Whether a workspace archive was saved. */
  hasArchive: boolean;
  /** The backend the session is kept in. */
  storage: 'fs' | 's3';
}

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
}
