import { Worker, type Job as QueueJob, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { StreamErrorCode } from '../errors/codes.js';
import { WorkerError } from '../errors/worker-error.js';
import { parseExecuteRequest } from '../http/execute-request.js';
import type { ExecuteRequest } from '../jobs/job-request.js';
import type { JobManager } from '../jobs/job-manager.js';
import type { Job } from '../jobs/job.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { SessionStore } from '../storage/types.js';
import type { ClusterSessions } from './cluster-sessions.js';
import { EventPublisher } from './event-publisher.js';
import { openPayload } from './job-payload.js';
import { keys, QUEUE_NAME, sessionOfQueueJob } from './keys.js';
import { announcePositions } from './positions.js';
import type { QueuedJobData } from './queued-jobs.js';
import { endUnfinishedJob } from './unfinished-job.js';

export interface QueueWorkerDeps {
  config: Readonly<Config>;
  jobs: JobManager;
  store: SessionStore;
  providers: ProviderRegistry;
  sessions: ClusterSessions;
  queue: Queue<QueuedJobData>;
  /** For BullMQ's blocking reads (it duplicates it as it needs). */
  connection: Redis;
  /** Pub/sub: abort requests. */
  subscriber: Redis;
  encryptionKey: Buffer;
  logger: Logger;
  /** Seconds the job waited in the queue (metrics). */
  onTaken?: (waitedMs: number) => void;
}

/** How a refusal before the job could run reads on its stream. */
class Refusal extends Error {
  constructor(
    readonly code: StreamErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The worker role: takes jobs from the queue, up to its slots, and runs each
 * exactly as the standalone role does (jobs/run-job.ts), publishing its events
 * to the session's Redis stream. A job is never run twice: BullMQ's stalled-job
 * retry is off (`maxStalledCount: 0`), since an agent's work has side effects;
 * a job whose worker died ends with WORKER_LOST instead (queue/queued-jobs.ts).
 */
export class QueueWorker {
  private worker: Worker<QueuedJobData> | undefined;
  private readonly running = new Map<string, Job>();

  constructor(private readonly deps: QueueWorkerDeps) {}

  start(options: { onFirstJob?: () => void } = {}): void {
    const { config, subscriber, logger } = this.deps;
    let taken = 0;
    this.worker = new Worker<QueuedJobData>(
      QUEUE_NAME,
      async (queued) => {
        if (++taken === 1) options.onFirstJob?.();
        await this.process(queued);
      },
      {
        connection: this.deps.connection,
        concurrency: config.maxConcurrentJobs,
        maxStalledCount: 0,
        autorun: true,
      },
    );
    this.worker.on('error', (error) => logger.warn({ err: error }, 'queue worker error; it reconnects by itself'));
    subscriber.on('message', (channel: string, jobId: string) => {
      if (channel === keys.abortChannel) this.running.get(jobId)?.abort('aborted by request');
    });
    void subscriber.subscribe(keys.abortChannel).catch((error: unknown) => logger.warn({ err: error }, 'could not subscribe to aborts'));
  }

  /** Stops taking jobs; resolves once the jobs it runs have ended and been recorded in the queue. */
  async close(): Promise<void> {
    await this.worker?.close();
  }

  private async process(queued: QueueJob<QueuedJobData>): Promise<void> {
    const { config, sessions, logger } = this.deps;
    const jobId = queued.id!;
    const sessionId = sessionOfQueueJob(jobId);
    const lastId = await sessions.take(sessionId, jobId, config.workerId, config.leaseTtlMs);
    if (lastId === undefined) {
      logger.info({ sessionId, jobId }, 'queued job no longer owns its session (aborted or ended); skipped');
      return;
    }
    const sealed = queued.data.sealed;
    // The credentials leave Redis as soon as the job is ours.
    await queued.updateData({ sessionId });
    this.deps.onTaken?.(Date.now() - queued.timestamp);
    void announcePositions(this.deps.queue, sessions).catch(() => {});
    const heartbeat = setInterval(
      () => void sessions.renewAlive(jobId, config.workerId, config.leaseTtlMs).catch(() => {}),
      Math.max(200, Math.floor(config.leaseTtlMs / 3)),
    );
    let released = false;
    try {
      const job = await this.startJob(sessionId, jobId, sealed);
      if (!job) return;
      this.running.set(jobId, job);
      const publisher = new EventPublisher(
        sessions,
        sessionId,
        jobId,
        logger,
        () => job.abort('the job lost its session to a gateway that found it lost'),
        this.deps.encryptionKey,
      );
      // What the gateway announced (up to `lastId`) is on the stream already.
      job.log.subscribe(
        lastId,
        (event) => publisher.publish(event),
        () => {},
        (event) => publisher.publishLiveOnly(event),
      );
      if (await sessions.isAbortRequested(jobId)) job.abort('aborted by request');
      await this.deps.jobs.whenDone(sessionId);
      released = await publisher.finish();
    } finally {
      clearInterval(heartbeat);
      this.running.delete(jobId);
      if (!released) {
        await sessions.release(sessionId, jobId).catch((error: unknown) => logger.warn({ sessionId, err: error }, 'could not release a session'));
      }
    }
  }

  /** Opens the request and starts the job; a refusal is recorded as the job's end and gives undefined. */
  private async startJob(sessionId: string, jobId: string, sealed: string | undefined): Promise<Job | undefined> {
    const { config, sessions, jobs } = this.deps;
    try {
      if (!sealed) throw new Refusal('EXECUTION_ERROR', 'The queued job has no request (it was taken before and lost).');
      const request = this.parseRequest(JSON.parse(openPayload(sealed, this.deps.encryptionKey, sessionId)));
      const announced = await sessions.eventsAfter(sessionId, 0);
      return await this.admit(() => jobs.start(request, { sessionId, announced }));
    } catch (error) {
      const refusal = error instanceof Refusal ? error : new Refusal('EXECUTION_ERROR', `The job could not start: ${(error as Error).message}`);
      this.deps.logger.warn({ sessionId, code: refusal.code, err: error }, 'queued job refused');
      const claim = await sessions.read(sessionId);
      if (claim?.jobId === jobId) {
        const { store, logger } = this.deps;
        const deps = { store, sessions, workerId: config.workerId, leaseTtlMs: config.leaseTtlMs, logger };
        await endUnfinishedJob(deps, claim, refusal.code, refusal.message);
      }
      return undefined;
    }
  }

  /** The request as the gateway accepted it, checked again against this worker's configuration. */
  private parseRequest(body: unknown): ExecuteRequest {
    try {
      return parseExecuteRequest(body, this.deps.config, this.deps.providers);
    } catch (error) {
      throw new Refusal('VALIDATION_ERROR', `The worker cannot run this request: ${(error as Error).message}`);
    }
  }

  /**
   * Starts the job; while the session's store lock is still held by a worker
   * that died (it lapses after SESSION_LEASE_TTL_MS), waits for it.
   */
  private async admit(start: () => Promise<Job>): Promise<Job> {
    const deadline = Date.now() + this.deps.config.leaseTtlMs + 1_000;
    for (;;) {
      try {
        return await start();
      } catch (error) {
        if (!(error instanceof WorkerError)) throw error;
        if (error.code !== 'SESSION_BUSY' || Date.now() > deadline) throw new Refusal('EXECUTION_ERROR', error.message);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }
}
