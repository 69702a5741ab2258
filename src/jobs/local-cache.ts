import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { isValidSessionId } from '../sessions/session-id.js';
import type { SessionStore } from '../storage/types.js';
import { localSessionPaths } from './local-session.js';
import { hasPendingSave } from './pending-save.js';

/** A copy being removed is renamed to this prefix first; session ids never start with a dot. */
const EVICTING = '.evicting-';

export interface LocalCacheDeps {
  workspaceDir: string;
  /** Idle copies are removed, least recently used first, while they hold more than `maxBytes` or are older than `maxAgeMs`. */
  limits: { maxBytes: number; maxAgeMs: number };
  store: SessionStore;
  workerId: string;
  leaseTtlMs: number;
  logger: Logger;
  /** True while a job of the session is being admitted or runs on this worker. */
  isActive(sessionId: string): boolean;
}

interface LocalCopy {
  bytes: number;
  /** When a job last finished with it (the folder's mtime, so it survives a restart). */
  usedAt: number;
}

/**
 * This worker's local session copies (`WORKSPACE_DIR/sessions/<id>`) as a
 * bounded cache. A copy only saves the next turn on this worker a restore from
 * the store, so idle ones are removed — least recently used first — once they
 * are over the size or age limit; a later resume restores the session from the
 * store. Checked at start-up and after every job.
 *
 * Never removed: a copy a job is using (being admitted or running here), one
 * with a pending save (the only copy of a turn the store has not got), and one
 * whose session lock is held anywhere. The lock is taken while a copy is
 * renamed away, so no job — on this worker, or on another sharing this
 * WORKSPACE_DIR — starts on a copy as it goes.
 *
 * Sizes are measured once per copy (at start-up, and when a job finishes with
 * it), not on every check: walking every workspace after every job would cost
 * more than the restores the cache saves.
 */
export class LocalSessionCache {
  private readonly copies = new Map<string, LocalCopy>();
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly deps: LocalCacheDeps) {}

  private get sessionsDir(): string {
    return path.join(this.deps.workspaceDir, 'sessions');
  }

  /** At start-up: removes copies whose removal a stop cut short, measures the others, then evicts. */
  start(): Promise<void> {
    return this.enqueue(async () => {
      for (const name of await fs.readdir(this.sessionsDir).catch(() => [] as string[])) {
        if (name.startsWith(EVICTING)) await fs.rm(path.join(this.sessionsDir, name), { recursive: true, force: true });
        else if (isValidSessionId(name)) await this.measure(name);
      }
      await this.evict();
    });
  }

  /** After a job: its session's copy was just used and may have grown; then evicts. */
  afterJob(sessionId: string): Promise<void> {
    return this.enqueue(async () => {
      const now = new Date();
      await fs.utimes(localSessionPaths(this.deps.workspaceDir, sessionId).root, now, now).catch(() => {});
      await this.measure(sessionId);
      await this.evict();
    });
  }

  /** One pass at a time, in order; a failure is logged and does not stop later passes. */
  private enqueue(pass: () => Promise<void>): Promise<void> {
    this.work = this.work
      .then(pass)
      .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'local session cache: eviction failed'));
    return this.work;
  }

  private async measure(sessionId: string): Promise<void> {
    const root = localSessionPaths(this.deps.workspaceDir, sessionId).root;
    const stat = await fs.stat(root).catch(() => undefined);
    if (!stat?.isDirectory()) {
      this.copies.delete(sessionId);
      return;
    }
    this.copies.set(sessionId, { bytes: await sizeOf(root), usedAt: stat.mtimeMs });
  }

  private async evict(): Promise<void> {
    const { maxBytes, maxAgeMs } = this.deps.limits;
    const now = Date.now();
    let total = 0;
    for (const copy of this.copies.values()) total += copy.bytes;
    const leastRecentFirst = [...this.copies].sort(([, a], [, b]) => a.usedAt - b.usedAt);
    for (const [sessionId, copy] of leastRecentFirst) {
      if (total <= maxBytes && now - copy.usedAt <= maxAgeMs) break;
      if (await this.remove(sessionId)) total -= copy.bytes;
    }
  }

  /** Removes one idle copy; false when it must stay (in use, pending save, lock held) or could not go. */
  private async remove(sessionId: string): Promise<boolean> {
    const { deps } = this;
    const paths = localSessionPaths(deps.workspaceDir, sessionId);
    if (deps.isActive(sessionId) || (await hasPendingSave(paths))) return false;
    const lease = await deps.store.acquireLease(sessionId, deps.workerId, deps.leaseTtlMs).catch(() => undefined);
    if (!lease) return false;
    const doomed = path.join(this.sessionsDir, `${EVICTING}${sessionId}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.rename(paths.root, doomed);
    } catch (error) {
      // Already gone (DELETE /sessions/:id removes the local copy too): nothing left to count.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.copies.delete(sessionId);
        return true;
      }
      deps.logger.warn({ sessionId, err: error }, 'local session cache: could not remove an idle copy');
      return false;
    } finally {
      await lease.release().catch(() => {});
    }
    const bytes = this.copies.get(sessionId)?.bytes;
    this.copies.delete(sessionId);
    await fs.rm(doomed, { recursive: true, force: true, maxRetries: 3 });
    deps.logger.info({ sessionId, bytes }, 'local session cache: removed an idle copy');
    return true;
  }
}

/** Bytes of every file under `dir` (symlinks not followed); what vanishes meanwhile counts as nothing. */
async function sizeOf(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const sizes = await Promise.all(
    entries.map(async (entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return sizeOf(full);
      return (await fs.lstat(full).catch(() => undefined))?.size ?? 0;
    }),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}
