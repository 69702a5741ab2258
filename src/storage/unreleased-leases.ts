import type { Lease } from './types.js';

/**
 * The session locks this process could not release: the store was unreachable when their
 * job ended. The next time this worker asks for one of them — to save the session's pending
 * turn, or for its next job — it renews the lock it still holds instead of waiting
 * SESSION_LEASE_TTL_MS for it to lapse (issue #11: after a store outage the deployment test's
 * worker waited 46 s for its own lock). A renewal is a compare-and-swap on the lock's own
 * version, so a lock that another worker took over meanwhile is never taken back; the store
 * then decides, as for any other request.
 */
export class UnreleasedLeases {
  private readonly kept = new Map<string, Lease>();

  /** The lock this process still holds for the session, renewed, or else `acquire()`'s. */
  async acquire(sessionId: string, owner: string, acquire: () => Promise<Lease | undefined>): Promise<Lease | undefined> {
    const kept = this.kept.get(sessionId);
    if (kept?.owner === owner) {
      this.kept.delete(sessionId);
      let renewed: boolean;
      try {
        renewed = await kept.renew();
      } catch (error) {
        // The store is still out of reach: keep holding it for the next try.
        this.kept.set(sessionId, kept);
        throw error;
      }
      if (renewed) return this.track(kept);
    }
    const lease = await acquire();
    return lease && this.track(lease);
  }

  /** The lease as handed out: its release keeps it here when the store cannot be reached. */
  private track(lease: Lease): Lease {
    const kept = this.kept;
    return {
      sessionId: lease.sessionId,
      owner: lease.owner,
      get expiresAt() {
        return lease.expiresAt;
      },
      renew: () => lease.renew(),
      async release() {
        try {
          await lease.release();
        } catch (error) {
          kept.set(lease.sessionId, lease);
          throw error;
        }
      },
    };
  }
}
