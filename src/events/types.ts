import { z } from 'zod';
import { STREAM_ERROR_CODES } from '../errors/codes.js';
import { normalizedItemSchema } from './normalized.js';
import { usageSchema } from './usage.js';

/**
 * Every event a stream can carry, defined once. The TypeScript types and the
 * event table in API.md come from these schemas (a test checks the doc).
 */
const base = { timestamp: z.string() };

const commitStages = [
  'analyzing',
  'creating_branch',
  'generating_message',
  'committing',
  'committed',
  'pushing',
  'pushed',
  'push_failed',
  'completed',
] as const;

export const eventSchemas = {
  connected: z.object({
    type: z.literal('connected'),
    ...base,
    sessionId: z.string(),
    resuming: z.boolean(),
    resumedFrom: z.string().optional(),
    provider: z.string(),
  }),
  message: z.object({ type: z.literal('message'), ...base, message: z.string() }),
  github_pull_progress: z.object({
    type: z.literal('github_pull_progress'),
    ...base,
    data: z.object({
      type: z.enum(['message', 'completed']),
      message: z.string().optional(),
      targetPath: z.string().optional(),
    }),
  }),
  branch_created: z.object({
    type: z.literal('branch_created'),
    ...base,
    branchName: z.string(),
    baseBranch: z.string(),
    message: z.string(),
  }),
  session_name: z.object({
    type: z.literal('session_name'),
    ...base,
    sessionName: z.string(),
    branchName: z.string().optional(),
  }),
  assistant_message: z.object({
    type: z.literal('assistant_message'),
    ...base,
    provider: z.string(),
    data: z.unknown(),
    /** The same message in the provider-neutral, versioned view (see normalized.ts). */
    normalized: z.array(normalizedItemSchema).optional(),
  }),
  commit_progress: z.object({
    type: z.literal('commit_progress'),
    ...base,
    stage: z.enum(commitStages),
    message: z.string(),
    branch: z.string().optional(),
    commitMessage: z.string().optional(),
    commitHash: z.string().optional(),
    error: z.string().optional(),
  }),
  pull_request: z.object({
    type: z.literal('pull_request'),
    ...base,
    url: z.string(),
    number: z.number(),
    action: z.enum(['created', 'updated']),
  }),
  completed: z.object({
    type: z.literal('completed'),
    ...base,
    sessionId: z.string(),
    duration_ms: z.number(),
    branch: z.string().optional(),
    commitHash: z.string().optional(),
    usage: usageSchema.optional(),
  }),
  error: z.object({
    type: z.literal('error'),
    ...base,
    error: z.string(),
    code: z.enum(Object.keys(STREAM_ERROR_CODES) as [keyof typeof STREAM_ERROR_CODES]),
  }),
} as const;

export type EventType = keyof typeof eventSchemas;
export type WorkerEventOf<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;
export type WorkerEvent = { [T in EventType]: WorkerEventOf<T> }[EventType];

/** An event without its timestamp, as emitted by job code; the log stamps it. */
export type EventInput = { [T in EventType]: Omit<WorkerEventOf<T>, 'timestamp'> }[EventType];

/** An event as stored in the session log and sent over SSE, with its sequence id. */
export interface NumberedEvent {
  id: number;
  event: WorkerEvent;
}

/** Events after which a job's stream ends. */
export function isTerminal(event: WorkerEvent): boolean {
  return event.type === 'completed' || event.type === 'error';
}
