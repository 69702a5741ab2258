/**
 * The lease keeper against a scripted lock whose renewals are slow, fail or
 * find another holder (issue #8), and the session saver's writes behind it,
 * against the real fs store.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { SessionEventLog } from '../../src/events/event-log.js';
import type { NumberedEvent } from '../../src/events/registry.js';
import { LeaseKeeper, LeaseLostError, type HeldLease } from '../../src/jobs/lease-keeper.js';
import { localSessionPaths } from '../../src/jobs/local-session.js';
import { readPendingSave } from '../../src/jobs/pending-save.js';
import { SessionSaver } from '../../src/jobs/session-saver.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { FsSessionStore } from '../../src/storage/fs.js';
import type { Lease, SessionMetadata } from '../../src/storage/types.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';

const logger = pino({ level: 'silent' });
/** A third of it is the renewal interval: 333 ms. */
const TTL_MS = 1_000;

type Step = 'renewed' | 'taken' | 'error';

/** A lock whose renewals follow `steps` (then keep succeeding), each taking `renewMs`. */
class ScriptedLease implements Lease {
  readonly sessionId = 'scripted';
  readonly owner = 'worker-a';
  expiresAt = Date.now() + TTL_MS;
  renewals = 0;
  inFlight = 0;
  maxInFlight = 0;
  releases = 0;

  constructor(
    private readonly steps: Step[],
    private readonly renewMs = 0,
  ) {}

  async renew(): Promise<boolean> {
    const step = this.steps[this.renewals++] ?? 'renewed';
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await sleep(this.renewMs);
      if (step === 'error') throw new Error('store unreachable');
      if (step === 'taken') return false;
      this.expiresAt = Date.now() + TTL_MS;
      return true;
    } finally {
      this.inFlight--;
    }
  }

  async release(): Promise<void> {
    this.releases++;
  }
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('until: timed out');
    await sleep(20);
  }
}

describe('LeaseKeeper', () => {
  it('never starts a renewal while the previous one still runs', async () => {
    // Each renewal takes twice the interval: a timer that fires on its own would overlap them.
    const lease = new ScriptedLease([], 700);
    const lost: string[] = [];
    const keeper = new LeaseKeeper(lease, TTL_MS, logger, (reason) => lost.push(reason));
    await until(() => lease.renewals >= 3);
    await keeper.stop();
    assert.equal(lease.maxInFlight, 1, 'one renewal at a time');
    assert.equal(lease.inFlight, 0, 'stop() waits for the renewal in flight');
    assert.deepEqual(lost, []);
    assert.equal(lease.releases, 1);
    const renewals = lease.renewals;
    await sleep(800);
    assert.equal(lease.renewals, renewals, 'no renewal after stop()');
  });

  it('keeps the job through failed renewals and aborts it only when another holder is found', async () => {
    const lease = new ScriptedLease(['error', 'error', 'renewed', 'taken']);
    const lost: string[] = [];
    const keeper = new LeaseKeeper(lease, TTL_MS, logger, (reason) => lost.push(reason));
    await until(() => lost.length > 0);
    assert.equal(lease.renewals, 4, 'the two failures were retried, and did not count as a loss');
    assert.equal(lost.length, 1);
    assert.match(lost[0]!, /lost to another worker/);
    assert.equal(keeper.held, false);
    await assert.rejects(keeper.ensureHeld(), LeaseLostError);
    await sleep(800);
    assert.equal(lease.renewals, 4, 'a lost lock is not renewed any more');
    await keeper.stop();
    assert.equal(lease.releases, 0, 'nor released: it is the other holder’s');
  });

  it('past its expiry without a renewal the lock is in doubt until a renewal reaches the store', async () => {
    const lease = new ScriptedLease(['error', 'error', 'error']);
    lease.expiresAt = Date.now() - 1;
    const lost: string[] = [];
    const keeper = new LeaseKeeper(lease, TTL_MS, logger, (reason) => lost.push(reason));
    try {
      assert.equal(keeper.held, false, 'expired: another worker may take it over');
      await keeper.ensureHeld(); // renews now; the error leaves the question open
      assert.equal(keeper.held, false);
      assert.deepEqual(lost, [], 'an error is not a loss, even past the expiry');
      await until(() => lease.renewals >= 4);
      await until(() => keeper.held);
      await keeper.ensureHeld();
      assert.deepEqual(lost, []);
    } finally {
      await keeper.stop();
    }
  });
});

describe('SessionSaver behind the session lock', () => {
  let temp: TempDir;
  let store: FsSessionStore;
  before(async () => {
    temp = await makeTempDir('acw-saver');
    store = new FsSessionStore(path.join(temp.path, 'store'));
    await store.init();
  });
  after(async () => {
    await temp.remove();
  });

  const metadataOf = (sessionId: string): SessionMetadata => ({
    sessionId,
    provider: 'claude-code',
    status: 'running',
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    lastEventId: 0,
    turns: 0,
    hasArchive: false,
    storage: 'fs',
  });

  it('holds checkpoints back while the lock is in doubt and writes them once it is held again', async () => {
    const lock = { held: false, ensureHeld: async () => {} };
    const saver = new SessionSaver('doubt', localSessionPaths(temp.path, 'doubt'), store, logger, 1, lock);
    const log = new SessionEventLog(new Redactor());
    saver.startCheckpoints(50, log, () => metadataOf('doubt'));
    log.append({ type: 'message', message: 'while in doubt' });
    await sleep(300);
    assert.equal(await store.readMetadata('doubt'), undefined, 'nothing written while the lock is in doubt');
    lock.held = true;
    let written: NumberedEvent[] = [];
    await until(async () => (written = await store.readEvents('doubt')).length > 0);
    await saver.stopCheckpoints();
    assert.deepEqual(
      written.map((event) => event.id),
      [1],
    );
  });

  it('writes nothing, and keeps no pending save, once the lock went to another worker', async () => {
    const lock: Pick<HeldLease, 'held' | 'ensureHeld'> = {
      held: false,
      ensureHeld: async () => {
        throw new LeaseLostError('another worker holds it');
      },
    };
    const paths = localSessionPaths(temp.path, 'taken');
    const saver = new SessionSaver('taken', paths, store, logger, 1, lock);
    const log = new SessionEventLog(new Redactor());
    log.append({ type: 'message', message: 'too late' });
    await assert.rejects(saver.saveArchive(metadataOf('taken')), LeaseLostError);
    await assert.rejects(saver.saveLog(metadataOf('taken'), log, true), LeaseLostError);
    assert.equal(await store.readMetadata('taken'), undefined);
    assert.deepEqual(await store.readEvents('taken'), []);
    assert.equal(await readPendingSave(paths), undefined);
  });
});
