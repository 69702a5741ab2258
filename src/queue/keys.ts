/**
 * Every Redis key and channel of ours (BullMQ keeps its own under `bull:`).
 * A session's job is a hash (its claim: which queued job owns the session, its
 * state, the last event id); its events are a Redis stream with the session's
 * own event ids as stream ids (`0-<id>`), so a reader resumes exactly after a
 * Last-Event-ID; every append is also published on a channel of the same name,
 * which wakes the gateways that follow it.
 */
export const QUEUE_NAME = 'ai-coding-worker';

export const keys = {
  claim: (sessionId: string) => `acw:session:${sessionId}`,
  events: (sessionId: string) => `acw:events:${sessionId}`,
  /** Exists while the worker running the job is alive: it renews it, like the session lease. */
  alive: (jobId: string) => `acw:alive:${jobId}`,
  /** Set by an abort, read by the worker when it takes or runs the job. */
  abort: (jobId: string) => `acw:abort:${jobId}`,
  /** A login a job refreshed, sealed, until GET /sessions/:id/credentials takes it (credentials/redis-handback.ts). */
  credentials: (sessionId: string) => `acw:credentials:${sessionId}`,
  /** Pub/sub: aborts for whichever worker runs the job. */
  abortChannel: 'acw:abort',
} as const;

/** Queue job ids carry their session (BullMQ ids must not contain `:`; session ids never do). */
export function queueJobId(uuid: string, sessionId: string): string {
  return `${uuid}.${sessionId}`;
}

export function sessionOfQueueJob(jobId: string): string {
  return jobId.slice(37);
}
