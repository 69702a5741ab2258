import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { WorkerError } from '../errors/worker-error.js';
import { SessionEventLog } from '../events/event-log.js';
import type { ExecuteRequest } from '../http/execute-request.js';
import type { Redactor } from '../secrets/redactor.js';
import { newSessionId } from '../sessions/session-id.js';
import type { SessionMetadata, SessionStore } from '../storage/types.js';
import { Job } from './job.js';
import { runJob, type JobDeps } from './run-job.js';
import { JobSlots } from './slots.js';

/** How long a client that got 429 should wait before trying again, in seconds. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Admits jobs (slots, one job per session, shutdown), keeps the running ones
 * by session id for abort and live streams, and reports when each finishes.
 */
export class JobManager extends EventEmitter<{ finished: [Job]; idle: [] }> {
  private readonly slots: JobSlots;
  private readonly running = new Map<string, { job: Job; done: Promise<void> }>();
  private accepting = true;

  constructor(
    private readonly deps: JobDeps & { maxConcurrentJobs: number },
    private readonly store: SessionStore = deps.store,
    private readonly redactor: Redactor = deps.redactor,
    private readonly logger: Logger = deps.logger,
  ) {
    super();
    this.slots = new JobSlots(deps.maxConcurrentJobs);
  }

  get isBusy(): boolean {
    return !this.slots.hasFree;
  }

  get runningCount(): number {
    return this.running.size;
  }

  get capacity(): number {
    return this.slots.capacity;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  get(sessionId: string): Job | undefined {
    return this.running.get(sessionId)?.job;
  }

  /**
   * Admits and starts a job. Throws a WorkerError for 404 (unknown session to
   * resume), 409 (session already running), 429 (no slot) and 503 (stopping).
   */
  async start(request: ExecuteRequest): Promise<Job> {
    const requestedId = request.resumeSessionId ?? request.websiteSessionId;
    if (requestedId && this.running.has(requestedId)) throw sessionBusy(requestedId);
    this.assertAdmissible();

    const previous = requestedId ? await this.store.readMetadata(requestedId) : undefined;
    if (request.resumeSessionId && !previous) {
      throw new WorkerError('SESSION_NOT_FOUND', `Session ${request.resumeSessionId} does not exist.`, {
        field: 'resumeSessionId',
      });
    }
    const history = previous ? await this.store.readEvents(previous.sessionId) : [];
    const sessionId = requestedId ?? newSessionId();

    // Everything from here to the map insert is synchronous, so two requests
    // cannot both pass the checks for the last slot or the same session.
    if (this.running.has(sessionId)) throw sessionBusy(sessionId);
    this.assertAdmissible();
    const release = this.slots.tryAcquire()!;

    const log = new SessionEventLog(this.redactor, history, Math.max(previous?.lastEventId ?? 0, history.at(-1)?.id ?? 0));
    const job = new Job(sessionId, request, log, previous);
    job.firstEventId = log.append({
      type: 'connected',
      sessionId,
      resuming: previous !== undefined,
      ...(previous ? { resumedFrom: previous.sessionId } : {}),
      provider: request.provider.name,
    }).id;
    const done = runJob(job, this.deps)
      .catch((error: unknown) => this.logger.error({ err: error, sessionId }, 'job runner crashed'))
      .finally(() => {
        this.running.delete(sessionId);
        release();
        this.emit('finished', job);
        if (this.running.size === 0) this.emit('idle');
      });
    this.running.set(sessionId, { job, done });
    this.logger.info({ sessionId, jobId: job.id, provider: request.provider.name, resuming: job.resuming }, 'job started');
    return job;
  }

  /** Aborts a running job; false when the session is not running here. */
  abort(sessionId: string, reason = 'aborted by request'): boolean {
    const entry = this.running.get(sessionId);
    if (!entry) return false;
    entry.job.abort(reason);
    return true;
  }

  /**
   * Stops admitting jobs, lets running ones finish within `graceMs`, then
   * aborts the rest and waits until they are saved.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.accepting = false;
    const all = () => Promise.all([...this.running.values()].map((entry) => entry.done));
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const result = await Promise.race([all().then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.logger.warn({ running: this.running.size }, 'grace period over; aborting running jobs');
      for (const { job } of this.running.values()) job.abort('worker shutting down');
    }
    await all();
  }

  private assertAdmissible(): void {
    if (!this.accepting) throw new WorkerError('SHUTTING_DOWN');
    if (!this.slots.hasFree) {
      throw new WorkerError('WORKER_BUSY', 'The worker has no free job slot; retry later.', {
        retryAfter: RETRY_AFTER_SECONDS,
      });
    }
  }
}

function sessionBusy(sessionId: string): WorkerError {
  return new WorkerError('SESSION_BUSY', `Session ${sessionId} is already running a job.`);
}

export type { SessionMetadata };
