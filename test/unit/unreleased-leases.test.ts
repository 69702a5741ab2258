import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease } from '../../src/storage/types.js';
import { UnreleasedLeases } from '../../src/storage/unreleased-leases.js';

/** A lock whose store answers as scripted: `down` makes every call fail as an unreachable store does. */
function scriptedLease(sessionId: string, owner: string) {
  const state = { down: false, lost: false, renewals: 0, released: false };
  const lease: Lease = {
    sessionId,
    owner,
    expiresAt: Date.now() + 60_000,
    async renew() {
      if (state.down) throw new Error('store unreachable');
      state.renewals += 1;
      return !state.lost;
    },
    async release() {
      if (state.down) throw new Error('store unreachable');
      state.released = true;
    },
  };
  return { lease, state };
}

describe('locks this worker could not release (issue #11)', () => {
  it('are renewed and handed out again instead of waiting for them to lapse', async () => {
    const leases = new UnreleasedLeases();
    const { lease, state } = scriptedLease('s1', 'worker-a');
    let fresh = 0;
    const acquire = async () => {
      fresh += 1;
      return fresh === 1 ? lease : undefined; // the store sees the lock held until it lapses
    };
    const first = (await leases.acquire('s1', 'worker-a', acquire))!;
    state.down = true;
    await assert.rejects(first.release(), /unreachable/);

    await assert.rejects(leases.acquire('s1', 'worker-a', acquire), /unreachable/, 'still down: the caller tries again later');
    state.down = false;
    const again = await leases.acquire('s1', 'worker-a', acquire);
    assert.ok(again, 'the kept lock came back without asking the store for a new one');
    assert.equal(fresh, 1);
    assert.equal(state.renewals, 1);
    await again.release();
    assert.equal(state.released, true);
    assert.equal(await leases.acquire('s1', 'worker-a', acquire), undefined, 'released for good: nothing kept');
  });

  it('are not taken back once another worker took them over, nor handed to another owner', async () => {
    const leases = new UnreleasedLeases();
    const { lease, state } = scriptedLease('s2', 'worker-a');
    await leases.acquire('s2', 'worker-a', async () => lease);
    state.down = true;
    await assert.rejects(lease.release());
    const wrapped = (await leases.acquire('s2', 'worker-a', async () => lease))!;
    await assert.rejects(wrapped.release());
    state.down = false;
    assert.equal(await leases.acquire('s2', 'worker-b', async () => undefined), undefined, 'another owner asks the store');
    state.lost = true;
    assert.equal(await leases.acquire('s2', 'worker-a', async () => undefined), undefined, 'a lost lock is the store\'s to give');
  });
});
