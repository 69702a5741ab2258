import { z } from 'zod';
import { STREAM_ERROR_CODES, type StreamErrorCode } from '../errors/codes.js';
import { defineEvent } from './define-event.js';
import { normalizedItemSchema } from './normalized.js';
import { usageSchema } from './usage.js';

/**
 * The one registry of stream events: each event type is defined here once, and
 * everything else comes from this list — the TypeScript types job code emits,
 * the event schemas of GET /openapi.json, the client's parser, and the event
 * table in API.md (a test checks it). An event that is not in this list cannot
 * be emitted. Only zod imports, so the client can use it in browsers.
 */
export const EVENT_DEFINITIONS = [
  defineEvent(
    'connected',
    z
      .object({
        sessionId: z.string(),
        resuming: z.boolean(),
        resumedFrom: z.string().optional(),
        provider: z.string(),
      })
      .describe("The first event of a job's stream."),
  ),
  defineEvent('message', z.object({ message: z.string() }).describe('Human-readable progress.')),
  defineEvent(
    'github_pull_progress',
    z
      .object({
        data: z.object({
          type: z.enum(['message', 'completed']),
          message: z.string().optional(),
          targetPath: z.string().optional(),
        }),
      })
      .describe('Progress of cloning or pulling the repository.'),
  ),
  defineEvent(
    'branch_created',
    z
      .object({ branchName: z.string(), baseBranch: z.string(), message: z.string() })
      .describe("The session's own branch was created."),
  ),
  defineEvent(
    'session_name',
    z
      .object({ sessionName: z.string(), branchName: z.string().optional() })
      .describe('A short title for the session.'),
  ),
  defineEvent(
    'assistant_message',
    z
      .object({
        provider: z.string(),
        /** The provider's own message, unchanged. */
        data: z.unknown(),
        /** The same message in the provider-neutral, versioned view (see normalized.ts); omitted when empty. */
        normalized: z.array(normalizedItemSchema).optional(),
      })
      .describe("Every message the agent's SDK yields: `data` unchanged, `normalized` its provider-neutral view."),
  ),
  defineEvent(
    'commit_progress',
    z
      .object({
        stage: z.enum([
          'analyzing',
          'creating_branch',
          'generating_message',
          'committing',
          'committed',
          'pushing',
          'pushed',
          'push_failed',
          'completed',
        ]),
        message: z.string(),
        branch: z.string().optional(),
        commitMessage: z.string().optional(),
        commitHash: z.string().optional(),
        error: z.string().optional(),
      })
      .describe('Auto-commit progress; a failed push (`push_failed`) does not fail the job.'),
  ),
  defineEvent(
    'pull_request',
    z
      .object({ url: z.string(), number: z.number(), action: z.enum(['created', 'updated']) })
      .describe('The pull request created or updated after a push, when asked for.'),
  ),
  defineEvent(
    'queued',
    z
      .object({
        /** 1 = the next job a worker takes. */
        position: z.number().int().min(1),
        /** Jobs ahead of this one. */
        ahead: z.number().int().min(0).optional(),
        estimatedWaitMs: z.number().int().min(0).optional(),
      })
      .describe('Gateway role: the job waits in the queue; sent again each time it moves forward.'),
  ),
  defineEvent(
    'credentials_updated',
    z
      .object({
        accessToken: z.string(),
        refreshToken: z.string().optional(),
        /** Epoch milliseconds. */
        expiresAt: z.number().optional(),
      })
      .describe(
        "The worker refreshed the job's Claude OAuth login: store these, the old refresh token no longer works. " +
          'Live only: no `id`, never stored, replayed or sent to the DB sink; SSE frame `event: credentials_updated`.',
      ),
  ),
  defineEvent(
    'completed',
    z
      .object({
        sessionId: z.string(),
        duration_ms: z.number(),
        branch: z.string().optional(),
        commitHash: z.string().optional(),
        usage: usageSchema.optional(),
      })
      .describe("The job's last event on success, sent once the session is saved."),
  ),
  defineEvent(
    'error',
    z
      .object({
        error: z.string(),
        code: z.enum(Object.keys(STREAM_ERROR_CODES) as [StreamErrorCode, ...StreamErrorCode[]]),
      })
      .describe("The job's last event on failure, sent once the session is saved."),
  ),
] as const;

type Definition = (typeof EVENT_DEFINITIONS)[number];
type EventSchema = Definition['schema'];

export type EventType = Definition['type'];
export type WorkerEventOf<T extends EventType> = z.infer<Extract<Definition, { type: T }>['schema']>;
/** An event as sent over SSE and stored in the session log. */
export type WorkerEvent = { [T in EventType]: WorkerEventOf<T> }[EventType];
/** An event without its timestamp, as emitted by job code; the log stamps it. */
export type EventInput = { [T in EventType]: Omit<WorkerEventOf<T>, 'timestamp'> }[EventType];

/** An event as stored in the session log and sent over SSE, with its sequence id (the frame's `id:`). */
export interface NumberedEvent {
  id: number;
  event: WorkerEvent;
}

/**
 * Events that go to the clients connected at that moment and nowhere else: not numbered,
 * not in the session log, not replayed, not sent to the DB sink (they carry secrets the
 * client must keep). A client that was away reads them once from GET /sessions/:id/credentials.
 */
export const LIVE_ONLY_EVENT_TYPES = ['credentials_updated'] as const satisfies readonly EventType[];
export type LiveOnlyEvent = WorkerEventOf<(typeof LIVE_ONLY_EVENT_TYPES)[number]>;

export function isLiveOnly(event: WorkerEvent): event is LiveOnlyEvent {
  return (LIVE_ONLY_EVENT_TYPES as readonly string[]).includes(event.type);
}

/** Every event type, in the order of the registry. */
export const EVENT_TYPES: readonly EventType[] = EVENT_DEFINITIONS.map((definition) => definition.type);

/** Each event's schema by its type. */
export const eventSchemas = Object.fromEntries(
  EVENT_DEFINITIONS.map((definition) => [definition.type, definition.schema]),
) as { [D in Definition as D['type']]: D['schema'] };

/** Any event: parses the JSON of one SSE frame's `data`. Unknown fields are dropped, unknown types fail. */
export const workerEventSchema = z.discriminatedUnion(
  'type',
  EVENT_DEFINITIONS.map((definition) => definition.schema) as [EventSchema, ...EventSchema[]],
);

/** The event types after which a job's stream ends. */
export const TERMINAL_EVENT_TYPES = ['completed', 'error'] as const satisfies readonly EventType[];

export function isTerminal(event: WorkerEvent): boolean {
  return (TERMINAL_EVENT_TYPES as readonly string[]).includes(event.type);
}
