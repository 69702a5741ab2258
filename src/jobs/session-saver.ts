import type { Logger } from 'pino';
import type { SessionEventLog } from '../events/event-log.js';
import type { SessionMetadata, SessionStore } from '../storage/types.js';
import type { HeldLease } from './lease-keeper.js';
import { localSessionPaths, markSnapshot, type LocalSessionPaths } from './local-session.js';
import { clearPendingSave, listPendingSaves, readPendingSave, writePendingSave, type PendingSave } from './pending-save.js';

/** First wait between save attempts; doubles each time. */
const RETRY_BASE_MS = 500;

/**
 * Everything that writes a session to the store: periodic checkpoints of the
 * event log and metadata while a job runs, the final save with retries and
 * backoff, and the local pending save when the store stays unreachable.
 *
 * It writes only while the job holds the session's lock: a checkpoint waits
 * while the lock is in doubt (past its expiry, not yet renewed), and the final
 * save throws LeaseLostError once another worker took the session over —
 * overwriting that worker's log would give two events the same id.
 */
export class SessionSaver {
  private timer: NodeJS.Timeout | undefined;
  private flushedEventId = -1;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly sessionId: string,
    private readonly paths: LocalSessionPaths,
    private readonly store: SessionStore,
    private readonly logger: Logger,
    private readonly attempts: number,
    private readonly lease?: Pick<HeldLease, 'held' | 'ensureHeld'>,
  ) {}

  /**
   * Flushes the log and metadata every `intervalMs` while they change; a crash
   * loses at most one interval. The first flush comes one interval after the
   * start, whatever happened: the job's opening events (its `connected`, the
   * WORKER_LOST of a job it took over from) are news to the store too.
   */
  startCheckpoints(intervalMs: number, log: SessionEventLog, metadata: () => SessionMetadata): void {
    this.timer = setInterval(() => {
      if (log.lastEventId === this.flushedEventId) return;
      this.flushing = this.flushing.then(() => this.checkpoint(log, metadata()));
    }, intervalMs);
    this.timer.unref();
  }

  async stopCheckpoints(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
  }

  /** Archives the local session folder, retrying; false when every attempt failed. Throws LeaseLostError. */
  async saveArchive(metadata: SessionMetadata): Promise<boolean> {
    await this.lease?.ensureHeld();
    return this.retry('archive', async () => {
      await markSnapshot(this.paths, metadata.updatedAt);
      await this.store.saveArchive(this.sessionId, this.paths.root);
    });
  }

  /**
   * Writes the final event log and metadata, retrying. When this or the archive
   * failed, keeps the session locally as a pending save (not when the lock was
   * lost: that throws before anything is written or kept).
   */
  async saveLog(metadata: SessionMetadata, log: SessionEventLog, archiveSaved: boolean): Promise<boolean> {
    await this.lease?.ensureHeld();
    const events = [...log.events()];
    const saved = await this.retry('event log', async () => {
      await this.store.writeEvents(this.sessionId, events);
      await this.store.writeMetadata(metadata);
    });
    if (saved && archiveSaved) await clearPendingSave(this.paths);
    else await writePendingSave(this.paths, { metadata, events, archive: !archiveSaved });
    return saved && archiveSaved;
  }

  private async checkpoint(log: SessionEventLog, metadata: SessionMetadata): Promise<void> {
    if (this.lease && !this.lease.held) return; // retried at the next interval
    const lastId = log.lastEventId;
    try {
      await this.store.writeEvents(this.sessionId, [...log.events()]);
      await this.store.writeMetadata({ ...metadata, lastEventId: lastId });
      this.flushedEventId = lastId;
    } catch (error) {
      this.logger.warn({ sessionId: this.sessionId, err: error }, 'checkpoint failed; retrying at the next interval');
    }
  }

  private async retry(what: string, action: () => Promise<void>): Promise<boolean> {
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        await action();
        return true;
      } catch (error) {
        this.logger.warn({ sessionId: this.sessionId, attempt, err: error }, `saving the session ${what} failed`);
        if (attempt < this.attempts) await sleep(RETRY_BASE_MS * 2 ** (attempt - 1));
      }
    }
    return false;
  }
}

/**
 * Brings a pending save to the store. Skips (returns false) when the store
 * already holds a newer version of the session, which must not be overwritten.
 */
export async function flushPendingSave(
  paths: LocalSessionPaths,
  store: SessionStore,
  pending: PendingSave | undefined,
): Promise<boolean> {
  if (!pending) return true;
  const stored = await store.readMetadata(pending.metadata.sessionId);
  if (stored && stored.updatedAt > pending.metadata.updatedAt) return false;
  if (pending.archive) {
    await markSnapshot(paths, pending.metadata.updatedAt);
    await store.saveArchive(pending.metadata.sessionId, paths.root);
  }
  await store.writeEvents(pending.metadata.sessionId, pending.events);
  await store.writeMetadata({ ...pending.metadata, hasArchive: pending.metadata.hasArchive || pending.archive });
  await clearPendingSave(paths);
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * At start-up (and before an EXIT_AFTER_JOB exit): saves every session that
 * this worker could not save, each under its lock. What fails stays pending
 * for the next try. Returns how many are still unsaved; one the store holds a
 * newer version of is not counted (it must not overwrite that one, and stays here).
 */
export async function resavePendingSessions(
  workspaceDir: string,
  store: SessionStore,
  owner: string,
  leaseTtlMs: number,
  logger: Logger,
): Promise<number> {
  let unsaved = 0;
  for (const sessionId of await listPendingSaves(workspaceDir)) {
    const paths = localSessionPaths(workspaceDir, sessionId);
    const lease = await store.acquireLease(sessionId, owner, leaseTtlMs).catch(() => undefined);
    if (!lease) {
      unsaved += 1;
      continue;
    }
    try {
      const saved = await flushPendingSave(paths, store, await readPendingSave(paths));
      logger.info({ sessionId, saved }, saved ? 'pending session saved' : 'pending session is older than the stored one; kept locally');
    } catch (error) {
      unsaved += 1;
      logger.warn({ sessionId, err: error }, 'pending session still cannot be saved');
    } finally {
      await lease.release().catch(() => {});
    }
  }
  return unsaved;
}
