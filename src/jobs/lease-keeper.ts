import type { Logger } from 'pino';
import type { Lease } from '../storage/types.js';
import type { Job } from './job.js';
import type { JobDeps } from './run-job.js';

/** The fastest renewal cadence, whatever the time-to-live. */
const MIN_INTERVAL_MS = 250;

/** Thrown by a save that would write the session after its lock went to another worker. */
export class LeaseLostError extends Error {
  constructor(reason: string) {
    super(`the session lock was lost (${reason}); this job's results were not written to the store`);
    this.name = 'LeaseLostError';
  }
}

/** What a running job's writes to the store check: the session's lock must still be the job's. */
export interface HeldLease {
  /** True while the lock is known to be the job's: renewed, and not past its expiry. */
  readonly held: boolean;
  /**
   * Renews now unless the lock is known to be held. Throws LeaseLostError once
   * another holder was seen; a renewal that fails with an error leaves the
   * question open and resolves (the write that follows will fail or succeed).
   */
  ensureHeld(): Promise<void>;
  /** Stops renewing and releases the lock, unless it was lost. */
  stop(): Promise<void>;
}

/**
 * Renews a job's session lock three times per time-to-live while the job runs,
 * and aborts the job when the lock is lost: two workers must never run the
 * same session.
 *
 * Renewals never overlap: each is scheduled after the previous one settled (a
 * `setInterval` fired while a slow renewal still ran, and the overlapping call
 * found the marker of its own compare-and-swap and took it for a loss — issue
 * #8). A lock counts as lost only when a renewal reaches the store and finds
 * another holder. A renewal that fails with an error (the store unreachable) is
 * retried sooner; even past the lock's expiry the job goes on, because a
 * renewal is a compare-and-swap on the job's own last version in both stores:
 * it never takes a lock back from a worker that took it over, so the first one
 * that reaches the store again decides. Until then the lock is not `held`, and
 * the job writes nothing to the store (see SessionSaver).
 */
export class LeaseKeeper implements HeldLease {
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();
  private stopped = false;
  private lostReason: string | undefined;
  /** The lock passed its expiry while renewals failed; logged once until a renewal succeeds. */
  private lapsed = false;

  constructor(
    private readonly lease: Lease,
    ttlMs: number,
    private readonly logger: Logger,
    private readonly onLost: (reason: string) => void,
  ) {
    this.intervalMs = Math.max(MIN_INTERVAL_MS, Math.floor(ttlMs / 3));
    this.schedule(this.intervalMs);
  }

  get held(): boolean {
    return this.lostReason === undefined && Date.now() < this.lease.expiresAt;
  }

  async ensureHeld(): Promise<void> {
    if (!this.held && this.lostReason === undefined && !this.stopped) await this.renewNow();
    if (this.lostReason !== undefined) throw new LeaseLostError(this.lostReason);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewing;
    if (this.lostReason !== undefined) return;
    await this.lease.release().catch((error: unknown) => this.log('warn', error, 'lease release failed'));
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped || this.lostReason !== undefined) return;
    this.timer = setTimeout(() => void this.renewNow(), delayMs);
    this.timer.unref();
  }

  /** Queues a renewal behind the one in flight, if any. */
  private renewNow(): Promise<void> {
    clearTimeout(this.timer);
    this.renewing = this.renewing.then(() => this.renewOnce());
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.stopped || this.lostReason !== undefined) return;
    let held: boolean;
    try {
      held = await this.lease.renew();
    } catch (error) {
      this.schedule(this.retryDelay(error));
      return;
    }
    if (!held) {
      this.lostReason = 'another worker holds it';
      this.log('error', undefined, 'session lease lost to another worker; aborting the job');
      this.onLost('the session lock was lost to another worker');
      return;
    }
    if (this.lapsed) this.log('info', undefined, 'session lease renewed again after it had expired');
    else this.log('debug', undefined, 'session lease renewed');
    this.lapsed = false;
    this.schedule(this.intervalMs);
  }

  /** While the lock is still valid, retry at half its remaining life; past it, at the usual pace. */
  private retryDelay(error: unknown): number {
    const left = this.lease.expiresAt - Date.now();
    if (left > 0) {
      this.log('warn', error, 'session lease renewal failed; retrying');
      return Math.min(this.intervalMs, Math.max(MIN_INTERVAL_MS, Math.floor(left / 2)));
    }
    if (!this.lapsed) {
      this.lapsed = true;
      this.log('error', error, 'session lease expired without renewal; another worker may take the session over');
    }
    return this.intervalMs;
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', error: unknown, message: string): void {
    this.logger[level]({ sessionId: this.lease.sessionId, ...(error === undefined ? {} : { err: error }) }, message);
  }
}

/** A job constructed without a lock has nothing to renew or check. */
const NO_LEASE: HeldLease = { held: true, ensureHeld: async () => {}, stop: async () => {} };

/** Starts keeping the job's session lock; the job is aborted if it is lost. */
export function keepLease(job: Job, deps: JobDeps): HeldLease {
  if (!job.lease) return NO_LEASE;
  return new LeaseKeeper(job.lease, deps.config.leaseTtlMs, deps.logger, (reason) => job.abort(reason));
}
