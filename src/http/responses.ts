import { z } from 'zod';
import { isolationStatusSchema } from '../isolation/types.js';
import { sessionMetadataSchema } from '../storage/types.js';

/**
 * The JSON bodies the routes answer with (errors aside: errors/error-body.ts).
 * The routes' return types and GET /openapi.json both come from these schemas.
 */

const workerState = {
  workerStatus: z.enum(['idle', 'busy']),
  runningJobs: z.number().int(),
  maxConcurrentJobs: z.number().int(),
  /** False once the worker is shutting down. */
  accepting: z.boolean(),
  role: z.enum(['standalone', 'gateway', 'worker']),
  /** Gateway role: the shared queue — jobs waiting and running, QUEUE_MAX, workers connected to it. */
  queue: z
    .object({ waiting: z.number().int(), active: z.number().int(), max: z.number().int(), workers: z.number().int() })
    .optional(),
  storage: z.enum(['fs', 's3']),
  isolation: isolationStatusSchema,
  containerId: z.string(),
  timestamp: z.string(),
};

export const healthSchema = z.object({
  status: z.literal('ok'),
  ...workerState,
  /** Whether new jobs are taken (GET /ready); false while the store cannot be reached or a session waits to be saved. */
  ready: z.boolean(),
});
export const readySchema = z.object({ ready: z.boolean(), reason: z.string().optional() });
export const idleStatusSchema = z.object({ status: z.literal('idle'), ...workerState });
export const busyStatusSchema = z.object({
  status: z.literal('busy'),
  ...workerState,
  /** Seconds to wait before trying again (also the `Retry-After` header). */
  retryAfter: z.number().int(),
});

export const sessionSummarySchema = sessionMetadataSchema.pick({
  sessionId: true,
  storage: true,
  provider: true,
  status: true,
  createdAt: true,
  updatedAt: true,
  title: true,
  branch: true,
});

export const sessionListSchema = z.object({
  /** Sessions in this answer (this page, when paging). */
  count: z.number().int(),
  /** With `limit` or `offset`: sessions in the store. */
  total: z.number().int().optional(),
  /** Newest first. */
  sessions: z.array(sessionSummarySchema),
  /** With `limit` or `offset`: where the next page starts, when there is one. */
  nextOffset: z.number().int().optional(),
});

export const sessionDetailsSchema = z.union([
  sessionMetadataSchema.extend({
    /** True while a job of the session is queued or runs (here, or on the queue's workers). */
    running: z.boolean(),
    /** Gateway role: the job waits in the queue. */
    queued: z.boolean().optional(),
  }),
  /** A new session whose job has not stored it yet: waiting in the queue (gateway role) or starting. */
  z.object({
    sessionId: z.string(),
    provider: z.string(),
    status: z.enum(['queued', 'running']),
    running: z.literal(true),
  }),
]);

export const sessionDeletedSchema = z.object({ sessionId: z.string(), deleted: z.literal(true) });
export const sessionAbortedSchema = z.object({ sessionId: z.string(), aborted: z.literal(true) });
/** The Claude login the worker refreshed during the session's last job (GET /sessions/:id/credentials, once). */
export const sessionCredentialsSchema = z.object({
  sessionId: z.string(),
  accessToken: z.string(),
  refreshToken: z.string().optional(),
  /** Epoch milliseconds. */
  expiresAt: z.number().optional(),
});

export const shutdownAnswerSchema = z.object({
  /** True when the worker exits: at once, or once its running job's session is saved. */
  exiting: z.boolean(),
  message: z.string(),
});

export type Health = z.infer<typeof healthSchema>;
export type Ready = z.infer<typeof readySchema>;
export type IdleStatus = z.infer<typeof idleStatusSchema>;
export type BusyStatus = z.infer<typeof busyStatusSchema>;
export type SessionList = z.infer<typeof sessionListSchema>;
export type SessionDetails = z.infer<typeof sessionDetailsSchema>;
export type SessionDeleted = z.infer<typeof sessionDeletedSchema>;
export type SessionAborted = z.infer<typeof sessionAbortedSchema>;
export type SessionCredentials = z.infer<typeof sessionCredentialsSchema>;
export type ShutdownAnswer = z.infer<typeof shutdownAnswerSchema>;
