import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { WorkerError } from '../errors/worker-error.js';
import type { WorkerEvent } from '../events/registry.js';
import type { EventFeed, JobControl, JobsSnapshot, LiveJob, StartedJob } from '../jobs/job-control.js';
import type { ExecuteRequest } from '../jobs/job-request.js';
import { settleLostSession, WORKER_LOST_MESSAGE } from '../jobs/lost-session.js';
import { newSessionId } from '../sessions/session-id.js';
import type { SessionStore } from '../storage/types.js';
import type { ClusterSessions, SessionClaim } from './cluster-sessions.js';
import type { EventRelay } from './event-relay.js';
import { sealPayload } from './job-payload.js';
import { queueJobId } from './keys.js';
import { announcePositions, queuePosition } from './positions.js';
import { endUnfinishedJob } from './unfinished-job.js';

/** What a queued job carries in Redis: the request sealed (queue/job-payload.ts), never in plain text. */
export interface QueuedJobData {
  sessionId: string;
  /** Removed by the worker that takes the job. */
  sealed?: string;
}

/** Seconds a client told QUEUE_FULL should wait. */
const QUEUE_FULL_RETRY_SECONDS = 10;
/** A claim whose queue job does not exist is left over from a gateway that died while enqueuing, once this old. */
const ORPHAN_CLAIM_MS = 10_000;
/** How often the gateway looks after the jobs its clients follow (lost workers, streams that ended). */
const WATCH_INTERVAL_MS = 1_000;

export interface QueuedJobsDeps {
  queue: Queue<QueuedJobData>;
  /** The queue's connection, for reading positions. */
  redis: Redis;
  sessions: ClusterSessions;
  relay: EventRelay;
  store: SessionStore;
  encryptionKey: Buffer;
  queueMax: number;
  workerId: string;
  leaseTtlMs: number;
  /** Only for settling sessions the standalone role left running (it has no pending saves of its own). */
  workspaceDir: string;
  logger: Logger;
}

/**
 * The gateway role's JobControl: jobs wait on the Redis queue for pull-based
 * workers (queue/queue-worker.ts) instead of being turned away with 429. The
 * gateway claims the session (one job per session across the cluster), opens
 * the job's stream with `connected`, and serves every stream from Redis, so a
 * client can re-attach to any gateway. It also notices workers that died: a
 * running job whose worker stopped renewing its liveness ends with WORKER_LOST.
 */
export class QueuedJobs implements JobControl {
  private readonly watcher: NodeJS.Timeout;
  private accepting = true;

  constructor(private readonly deps: QueuedJobsDeps) {
    this.watcher = setInterval(() => void this.watchFollowedJobs(), WATCH_INTERVAL_MS);
    this.watcher.unref();
  }

  async start(request: ExecuteRequest, body: unknown): Promise<StartedJob> {
    if (!this.accepting) throw new WorkerError('SHUTTING_DOWN');
    const { store, sessions, queue } = this.deps;
    const sessionId = request.resumeSessionId ?? request.websiteSessionId ?? newSessionId();
    const wantsExisting = request.resumeSessionId !== undefined || request.websiteSessionId !== undefined;
    let previous = wantsExisting ? await store.readMetadata(sessionId) : undefined;
    if (request.resumeSessionId && !previous) {
      throw new WorkerError('SESSION_NOT_FOUND', `Session ${sessionId} does not exist.`, { field: 'resumeSessionId' });
    }
    const provider = request.provider.name;
    const jobId = queueJobId(randomUUID(), sessionId);

    await reachingQueue(async () => {
      const waiting = await queue.getWaitingCount();
      if (waiting >= this.deps.queueMax) {
        throw new WorkerError('QUEUE_FULL', `The queue holds ${waiting} jobs, its limit (QUEUE_MAX); retry later.`, {
          retryAfter: QUEUE_FULL_RETRY_SECONDS,
        });
      }
      await this.claim(sessionId, jobId, provider, previous?.lastEventId ?? 0);
    });
    try {
      // Again, now that the session is ours: a lost job of it may just have been ended.
      previous = wantsExisting ? await store.readMetadata(sessionId) : undefined;
      if (previous?.status === 'running') {
        // Stored as running, yet no job holds the session: its worker died (a standalone worker, or one
        // whose end nobody recorded). Settled under the store lock, as the standalone role does.
        previous = await settleLostSession(this.lostSessionDeps(), previous);
        if (previous.status === 'running') throw sessionBusy(sessionId, 'a worker that still holds its lock');
      }
      if (previous) await reachingQueue(() => sessions.setLastId(sessionId, jobId, previous!.lastEventId));
      const connected: WorkerEvent = {
        type: 'connected',
        sessionId,
        resuming: previous !== undefined,
        ...(previous ? { resumedFrom: previous.sessionId } : {}),
        provider,
        timestamp: new Date().toISOString(),
      };
      const firstEventId = await reachingQueue(async () => {
        const id = await sessions.appendNext(sessionId, jobId, connected, 'queued');
        const data: QueuedJobData = { sessionId, sealed: sealPayload(JSON.stringify(body), this.deps.encryptionKey, sessionId) };
        await queue.add('execute', data, { jobId, removeOnComplete: true, removeOnFail: true });
        return id;
      });
      if (firstEventId === undefined) throw sessionBusy(sessionId);
      void this.announcePosition(sessionId, jobId).catch(() => {});
      this.deps.logger.info({ sessionId, jobId, provider }, 'job queued');
      return { sessionId, provider, state: 'queued', firstEventId, feed: this.feed(sessionId) };
    } catch (error) {
      await sessions.release(sessionId, jobId).catch(() => {});
      throw error;
    }
  }

  async find(sessionId: string): Promise<LiveJob | undefined> {
    const claim = await reachingQueue(() => this.deps.sessions.read(sessionId));
    if (!claim) return undefined;
    // A job nobody follows has nobody to notice its worker died: whoever asks about it does.
    if (claim.state === 'running' && (await reachingQueue(() => this.clearIfOver(claim)))) return undefined;
    return { sessionId, provider: claim.provider, state: claim.state, feed: this.feed(sessionId) };
  }

  async abort(sessionId: string): Promise<boolean> {
    const { sessions, queue } = this.deps;
    return reachingQueue(async () => {
      const claim = await sessions.read(sessionId);
      if (!claim) return false;
      if (claim.state === 'queued') {
        const queued = await queue.getJob(claim.jobId);
        // Fails when a worker holds the job's lock: it has just taken it, and gets the abort below.
        const removed = queued ? await queued.remove().then(() => true, () => false) : true;
        if (removed && (await endUnfinishedJob(this.unfinishedJobDeps(), claim, 'ABORTED', 'The job was aborted before it started.'))) {
          void announcePositions(queue, sessions).catch(() => {});
          return true;
        }
      }
      await sessions.requestAbort(claim.jobId);
      return true;
    });
  }

  async snapshot(): Promise<JobsSnapshot> {
    const { queue, queueMax } = this.deps;
    const counts = await Promise.all([queue.getWaitingCount(), queue.getActiveCount(), queue.getWorkersCount()]).catch(
      () => undefined,
    );
    const [waiting = 0, active = 0, workers = 0] = counts ?? [];
    return {
      busy: counts === undefined || waiting >= queueMax,
      runningJobs: active,
      maxConcurrentJobs: 0,
      accepting: this.accepting && counts !== undefined,
      queue: { waiting, active, max: queueMax, workers },
    };
  }

  /** Stops taking jobs (the queue keeps the ones it has). */
  close(): void {
    this.accepting = false;
    clearInterval(this.watcher);
  }

  /**
   * The job's events for a client: what the store has below the Redis stream
   * (earlier jobs of the session), then the stream, live, until the final event.
   */
  private feed(sessionId: string): EventFeed {
    return {
      subscribe: (afterId, listener, onEnd, onLiveOnly) => {
        let unfollow: (() => void) | undefined;
        let stopped = false;
        void (async () => {
          const { store, sessions, relay } = this.deps;
          const firstStreamed = await sessions.firstStreamedId(sessionId);
          let lastSent = afterId;
          const older = firstStreamed === undefined || afterId < firstStreamed - 1 ? await store.readEvents(sessionId) : [];
          for (const event of older) {
            if (stopped) return;
            if (event.id <= lastSent || (firstStreamed !== undefined && event.id >= firstStreamed)) continue;
            listener(event);
            lastSent = event.id;
          }
          if (stopped) return;
          if (firstStreamed === undefined) return onEnd();
          unfollow = relay.follow(sessionId, Math.max(lastSent, firstStreamed - 1), listener, onEnd, onLiveOnly);
        })().catch((error: unknown) => {
          this.deps.logger.warn({ sessionId, err: error }, 'could not open a session\'s stream');
          if (!stopped) onEnd();
        });
        return () => {
          stopped = true;
          unfollow?.();
        };
      },
    };
  }

  /** The new job's place in the queue, unless a worker has taken it already. */
  private async announcePosition(sessionId: string, jobId: string): Promise<void> {
    const position = await queuePosition(this.deps.queue, this.deps.redis, jobId);
    if (position !== undefined) await this.deps.sessions.notePosition(sessionId, jobId, position);
  }

  private async claim(sessionId: string, jobId: string, provider: string, lastId: number): Promise<void> {
    const { sessions } = this.deps;
    const holder = await sessions.claim(sessionId, jobId, provider, lastId);
    if (holder === undefined) return;
    const claim = await sessions.read(sessionId);
    if (claim && (await this.clearIfOver(claim)) && (await sessions.claim(sessionId, jobId, provider, lastId)) === undefined) return;
    throw sessionBusy(sessionId);
  }

  /**
   * Whether the claim's job is over even though its claim is still there: its
   * worker died (the job ends with WORKER_LOST), or the gateway that claimed it
   * died before queueing it. True once the claim is gone.
   */
  private async clearIfOver(claim: SessionClaim): Promise<boolean> {
    const { sessions, queue } = this.deps;
    if (claim.state === 'running') {
      if (await sessions.isAlive(claim.jobId)) return false;
      return endUnfinishedJob(this.unfinishedJobDeps(), claim, 'WORKER_LOST', WORKER_LOST_MESSAGE);
    }
    if (Date.now() - claim.at < ORPHAN_CLAIM_MS || (await queue.getJob(claim.jobId))) return false;
    return sessions.release(claim.sessionId, claim.jobId);
  }

  /**
   * Every second, for the jobs this gateway's clients follow: a job whose
   * worker died is ended with WORKER_LOST (that event ends the streams), and a
   * stream whose job ended without this gateway hearing it is read again —
   * or finished from the store once Redis no longer has it.
   */
  private async watchFollowedJobs(): Promise<void> {
    const { sessions, relay, store } = this.deps;
    await relay.catchUpSuspects();
    await Promise.all(
      relay.followedSessions().map(async (sessionId) => {
        try {
          const claim = await sessions.read(sessionId);
          if (claim) {
            if (claim.state === 'running') await this.clearIfOver(claim);
            return;
          }
          await relay.catchUp(sessionId);
          if ((await sessions.firstStreamedId(sessionId)) === undefined) relay.finish(sessionId, await store.readEvents(sessionId));
        } catch (error) {
          this.deps.logger.warn({ sessionId, err: error }, 'could not look after a followed job');
        }
      }),
    );
  }

  private unfinishedJobDeps() {
    const { store, sessions, workerId, leaseTtlMs, logger } = this.deps;
    return { store, sessions, workerId, leaseTtlMs, logger };
  }

  private lostSessionDeps() {
    const { store, workspaceDir, workerId, leaseTtlMs } = this.deps;
    return { store, workspaceDir, workerId, leaseTtlMs };
  }
}

/** Runs Redis work of a request; a Redis that cannot be reached becomes 503 QUEUE_UNAVAILABLE. */
async function reachingQueue<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof WorkerError) throw error;
    throw new WorkerError('QUEUE_UNAVAILABLE', `The job queue cannot be reached: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function sessionBusy(sessionId: string, where = 'the cluster'): WorkerError {
  return new WorkerError('SESSION_BUSY', `Session ${sessionId} already has a queued or running job in ${where}.`);
}

