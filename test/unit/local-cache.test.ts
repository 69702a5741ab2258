/**
 * Which local session copies the cache removes and which it keeps, on real
 * folders, with the real fs store holding the session locks.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { LocalSessionCache } from '../../src/jobs/local-cache.js';
import { FsSessionStore } from '../../src/storage/fs.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';

const HOUR = 3_600_000;

describe('LocalSessionCache', () => {
  let temp: TempDir;
  let store: FsSessionStore;
  let workspaceDir: string;

  beforeEach(async () => {
    temp = await makeTempDir('acw-cache');
    store = new FsSessionStore(path.join(temp.path, 'store'));
    await store.init();
    workspaceDir = path.join(temp.path, 'workspace');
  });
  afterEach(async () => {
    await temp.remove();
  });

  /** A local copy holding `bytes` bytes, last used `ago` ms ago, optionally with a pending save. */
  async function copy(sessionId: string, bytes: number, ago: number, pending = false): Promise<void> {
    const root = path.join(workspaceDir, 'sessions', sessionId);
    await fs.mkdir(path.join(root, 'workspace'), { recursive: true });
    await fs.writeFile(path.join(root, 'workspace', 'file.bin'), Buffer.alloc(bytes));
    if (pending) await fs.writeFile(path.join(root, '.pending-save.json'), '{}');
    const usedAt = new Date(Date.now() - ago);
    await fs.utimes(root, usedAt, usedAt);
  }

  const left = async () => (await fs.readdir(path.join(workspaceDir, 'sessions'))).sort();

  function cache(limits: { maxBytes: number; maxAgeMs: number }, active: string[] = []): LocalSessionCache {
    return new LocalSessionCache({
      workspaceDir,
      limits,
      store,
      workerId: 'worker-a',
      leaseTtlMs: 60_000,
      logger: pino({ level: 'silent' }),
      isActive: (sessionId) => active.includes(sessionId),
    });
  }

  it('removes idle copies least recently used first until they fit; never active, pending or locked ones', async () => {
    await copy('active', 100, 7 * HOUR);
    await copy('pending', 100, 6 * HOUR, true);
    await copy('old-1', 100, 5 * HOUR);
    await copy('old-2', 100, 4 * HOUR);
    await copy('locked', 100, 3.5 * HOUR);
    await copy('new-1', 100, 2 * HOUR);
    await copy('new-2', 100, 1 * HOUR);
    const held = await store.acquireLease('locked', 'worker-b', 60_000);
    assert.ok(held, 'another worker runs "locked"');
    await fs.mkdir(path.join(workspaceDir, 'sessions', '.evicting-cut-short-0000'), { recursive: true });

    await cache({ maxBytes: 450, maxAgeMs: 24 * HOUR }, ['active']).start();
    // 702 bytes: old-1, old-2 and new-1 go (402 left); the three that must stay are skipped.
    assert.deepEqual(await left(), ['active', 'locked', 'new-2', 'pending']);
    assert.ok(await store.acquireLease('old-1', 'worker-b', 60_000), 'the lock taken to evict was released');
    await held.release();
  });

  it('removes copies older than the age limit however little they hold', async () => {
    await copy('stale', 10, 2 * HOUR);
    await copy('fresh', 10, HOUR / 6);
    await cache({ maxBytes: 1_000_000, maxAgeMs: HOUR }).start();
    assert.deepEqual(await left(), ['fresh']);
  });

  it('counts a copy a job just finished with as the most recently used', async () => {
    await copy('first', 100, 2 * HOUR);
    await copy('second', 100, HOUR);
    const bounded = cache({ maxBytes: 150, maxAgeMs: 24 * HOUR }, ['first', 'second']);
    await bounded.start(); // both in use: nothing goes
    assert.deepEqual(await left(), ['first', 'second']);
    const idle = cache({ maxBytes: 150, maxAgeMs: 24 * HOUR });
    await idle.start(); // measures both; "first" is the older and goes
    assert.deepEqual(await left(), ['second']);
    await copy('first', 100, 3 * HOUR);
    await idle.afterJob('first'); // used just now: "second" is the older one
    assert.deepEqual(await left(), ['first']);
  });
});
