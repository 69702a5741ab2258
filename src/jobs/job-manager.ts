import { EventEmitter } from 'node:events';
import { WorkerError } from '../errors/worker-error.js';
import { SessionEventLog } from '../events/event-log.js';
import type { NumberedEvent } from '../events/registry.js';
import type { AgentUser } from '../isolation/types.js';
import { newSessionId } from '../sessions/session-id.js';
import type { Lease, SessionMetadata } from '../storage/types.js';
import type { ExecuteRequest } from './job-request.js';
import { Job } from './job.js';
import { localSessionPaths } from './local-session.js';
import { workerLostEvent } from './lost-session.js';
import { readPendingSave } from './pending-save.js';
import { flushPendingSave } from './session-saver.js';
import { runJob, type JobDeps } from './run-job.js';
import { JobSlots } from './slots.js';

/** How long a client that got 429 should wait before trying again, in seconds. */
const RETRY_AFTER_SECONDS = 5;

/** How a queue worker hands a job over (queue/queue-worker.ts); the standalone role passes none. */
export interface StartOptions {
  /** The session id the gateway chose for a new session. */
  sessionId?: string;
  /**
   * The events the gateway already put out for this job (its `connected`, its
   * `queued` updates): the job's log goes on from them instead of announcing itself again.
   */
  announced?: readonly NumberedEvent[];
}

interface Admitted {
  previous?: SessionMetadata;
  history: NumberedEvent[];
  lease: Lease;
}

/**
 * Admits jobs (slots, one job per session across workers, shutdown), keeps
 * the running ones by session id for abort and live streams, and reports when
 * each finishes.
 */
export class JobManager extends EventEmitter<{ finished: [Job]; idle: [] }> {
  private readonly slots: JobSlots;
  private readonly running = new Map<string, { job: Job; done: Promise<void> }>();
  /** Sessions between admission and start (their lock and history are being read). */
  private readonly starting = new Set<string>();
  private accepting = true;

  constructor(
    private readonly deps: JobDeps,
    /** One identity per job slot (see src/isolation). */
    agentUsers: readonly AgentUser[],
  ) {
    super();
    this.slots = new JobSlots(agentUsers);
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

  /** True while a job of the session is being admitted or runs here: its local copy is in use. */
  isActive(sessionId: string): boolean {
    return this.running.has(sessionId) || this.starting.has(sessionId);
  }

  /**
   * Admits and starts a job. Throws a WorkerError for 404 (unknown session to
   * resume), 409 (session running here or on another worker), 429 (no slot)
   * and 503 (stopping).
   */
  async start(request: ExecuteRequest, options: StartOptions = {}): Promise<Job> {
    const sessionId = request.resumeSessionId ?? request.websiteSessionId ?? options.sessionId ?? newSessionId();
    // A job whose final event is out only has its log and lock left to let go of: a client
    // that resumes the moment it reads `completed` waits for that instead of getting a 409.
    const finishing = this.running.get(sessionId);
    if (finishing?.job.log.terminalEvent()) await finishing.done;
    // Synchronous from here up to the reservation, so two requests cannot both pass the
    // checks for the last slot or for the same session.
    if (this.running.has(sessionId) || this.starting.has(sessionId)) throw sessionBusy(sessionId);
    if (!this.accepting) throw new WorkerError('SHUTTING_DOWN');
    const slot = this.slots.tryAcquire();
    if (!slot) {
      throw new WorkerError('WORKER_BUSY', 'The worker has no free job slot; retry later.', {
        retryAfter: RETRY_AFTER_SECONDS,
      });
    }
    this.starting.add(sessionId);
    let admitted: Admitted;
    try {
      admitted = await this.admit(sessionId, request);
    } catch (error) {
      slot.release();
      throw error;
    } finally {
      this.starting.delete(sessionId);
    }
    return this.launch(sessionId, request, admitted, slot, options.announced ?? []);
  }

  /** Settles once the session's job here has ended and let go of its slot; at once when it has none. */
  async whenDone(sessionId: string): Promise<void> {
    await this.running.get(sessionId)?.done;
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
      this.deps.logger.warn({ running: this.running.size }, 'grace period over; aborting running jobs');
      for (const { job } of this.running.values()) job.abort('worker shutting down');
    }
    await all();
  }

  /** Reads what the job resumes from and takes the session's lock in the store. */
  private async admit(sessionId: string, request: ExecuteRequest): Promise<Admitted> {
    const { store, config } = this.deps;
    const wantsExisting = request.resumeSessionId !== undefined || request.websiteSessionId !== undefined;
    let previous = wantsExisting ? await store.readMetadata(sessionId) : undefined;
    const paths = localSessionPaths(config.workspaceDir, sessionId);
    const pending = wantsExisting ? await readPendingSave(paths) : undefined;
    if (request.resumeSessionId && !previous && !pending) {
      throw new WorkerError('SESSION_NOT_FOUND', `Session ${sessionId} does not exist.`, { field: 'resumeSessionId' });
    }

    const lease = await store.acquireLease(sessionId, config.workerId, config.leaseTtlMs);
    if (!lease) throw sessionBusy(sessionId, 'another worker');
    try {
      // Again under the lock: a reader may have settled the last job as interrupted meanwhile (lost-session.ts).
      if (wantsExisting) previous = await store.readMetadata(sessionId);
      let history = previous ? await store.readEvents(sessionId) : [];
      if (pending) {
        // The last turn on this worker never reached the store: bring it there now, or work from it.
        const flushed = await flushPendingSave(paths, store, pending).catch(() => false);
        if (flushed) {
          previous = await store.readMetadata(sessionId);
          history = await store.readEvents(sessionId);
        } else if (!previous || pending.metadata.updatedAt >= previous.updatedAt) {
          previous = pending.metadata;
          history = pending.events;
        }
      }
      return { previous, history, lease };
    } catch (error) {
      await lease.release().catch(() => {});
      throw error;
    }
  }

  private launch(
    sessionId: string,
    request: ExecuteRequest,
    admitted: Admitted,
    slot: { agentUser: AgentUser; release: () => void },
    announced: readonly NumberedEvent[],
  ): Job {
    const { previous, history, lease } = admitted;
    const storedLastId = Math.max(previous?.lastEventId ?? 0, history.at(-1)?.id ?? 0);
    const fresh = announced.filter((event) => event.id > storedLastId);
    const log = new SessionEventLog(this.deps.redactor, [...history, ...fresh], Math.max(storedLastId, fresh.at(-1)?.id ?? 0));
    const job = new Job(sessionId, request, log, slot.agentUser, previous, lease);
    if (fresh.length > 0) {
      // The gateway announced the job; whoever ran the session last was settled by it (queue/lost-job.ts).
      job.firstEventId = fresh[0]!.id;
    } else {
      // We hold the lock, so whoever ran the last job died before it finished.
      if (previous?.status === 'running') log.append(workerLostEvent());
      job.firstEventId = log.append({
        type: 'connected',
        sessionId,
        resuming: previous !== undefined,
        ...(previous ? { resumedFrom: previous.sessionId } : {}),
        provider: request.provider.name,
      }).id;
    }
    const done = runJob(job, this.deps)
      .catch((error: unknown) => this.deps.logger.error({ err: error, sessionId }, 'job runner crashed'))
      .finally(() => {
        this.running.delete(sessionId);
        slot.release();
        this.emit('finished', job);
        if (this.running.size === 0) this.emit('idle');
      });
    this.running.set(sessionId, { job, done });
    this.deps.logger.info(
      { sessionId, jobId: job.id, provider: request.provider.name, resuming: job.resuming },
      'job started',
    );
    return job;
  }
}

function sessionBusy(sessionId: string, where = 'this worker'): WorkerError {
  return new WorkerError('SESSION_BUSY', `Session ${sessionId} is already running a job on ${where}.`);
}
