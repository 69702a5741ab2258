import type { LiveOnlyEvent, NumberedEvent } from '../events/registry.js';
import type { ExecuteRequest } from './job-request.js';

/** A job's events: the ones already out, then live ones until its final event. */
export interface EventFeed {
  /**
   * Replays the events with ids above `afterId`, then delivers live ones; calls
   * `onEnd` after the final event. `onLiveOnly` gets the live-only events sent while
   * subscribed (`credentials_updated`). Returns an unsubscribe that is safe to call twice.
   */
  subscribe(
    afterId: number,
    listener: (event: NumberedEvent) => void,
    onEnd: () => void,
    onLiveOnly?: (event: LiveOnlyEvent) => void,
  ): () => void;
}

/** A session's job that has not ended: waiting in the queue, or running on some worker. */
export interface LiveJob {
  sessionId: string;
  provider: string;
  state: 'queued' | 'running';
  feed: EventFeed;
}

export interface StartedJob extends LiveJob {
  /** The id of the job's `connected` event: where its own stream starts. */
  firstEventId: number;
}

/** What the HTTP API reports about where jobs run (/health, /status). */
export interface JobsSnapshot {
  /** True when a new job would be turned away with 429. */
  busy: boolean;
  runningJobs: number;
  maxConcurrentJobs: number;
  accepting: boolean;
  /** Gateway role: the shared queue. */
  queue?: { waiting: number; active: number; max: number; workers: number };
}

/**
 * Where the HTTP API sends jobs: run here (standalone, jobs/local-jobs.ts) or
 * queued for pull-based workers (gateway, queue/queued-jobs.ts). The routes are
 * the same for both roles; only this differs.
 */
export interface JobControl {
  /**
   * Admits a job and returns its feed. `body` is the request as the client sent
   * it (a queued job carries it, sealed, to a worker that parses it again). Throws a WorkerError for 404 (unknown
   * session to resume), 409 (the session has a job), 429 (no slot, or queue
   * full) and 503 (stopping, queue unreachable).
   */
  start(request: ExecuteRequest, body: unknown): Promise<StartedJob>;
  /** The session's queued or running job, wherever it is; undefined when it has none. */
  find(sessionId: string): Promise<LiveJob | undefined>;
  /** Stops the session's job, or takes it off the queue; false when it has none. */
  abort(sessionId: string): Promise<boolean>;
  snapshot(): Promise<JobsSnapshot>;
}
