/**
 * Renewing a session lock, store by store (issue #8): the fs store's
 * compare-and-swap markers do not pile up and a failed renewal can be retried;
 * an S3 renewal whose write landed but whose answer was lost is not taken for
 * a loss later.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { FsSessionStore } from '../../src/storage/fs.js';
import { acquireS3Lease } from '../../src/storage/s3-lease.js';
import { createS3TestClient, startS3Server, type S3TestServer } from '../fixtures/s3-server.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';

describe('fs session lock renewals', () => {
  let temp: TempDir;
  let store: FsSessionStore;
  before(async () => {
    temp = await makeTempDir('acw-fs-lease');
    store = new FsSessionStore(temp.path);
    await store.init();
  });
  after(async () => {
    await temp.remove();
  });

  const filesOf = async (sessionId: string) => (await fs.readdir(path.join(temp.path, sessionId))).sort();

  it('leave no compare-and-swap marker behind, however many there are', async () => {
    const lease = await store.acquireLease('many', 'worker-a', 60_000);
    assert.ok(lease);
    for (let round = 0; round < 50; round++) assert.equal(await lease.renew(), true);
    assert.deepEqual(await filesOf('many'), ['lease.json']);
    assert.equal(await store.acquireLease('many', 'worker-b', 60_000), undefined, 'still held');
    await lease.release();
    assert.deepEqual(await filesOf('many'), []);
  });

  it('can be retried after one failed with an I/O error: no marker is left to make it look lost', async () => {
    const lease = await store.acquireLease('flaky', 'worker-a', 60_000);
    assert.ok(lease);
    const file = path.join(temp.path, 'flaky', 'lease.json');
    // The lease file turns unreadable for one renewal (EISDIR), then comes back as it was.
    await fs.rename(file, `${file}.aside`);
    await fs.mkdir(file);
    await assert.rejects(lease.renew());
    await fs.rmdir(file);
    await fs.rename(`${file}.aside`, file);
    assert.equal(await lease.renew(), true, 'the failed renewal was not a loss');
    assert.deepEqual(await filesOf('flaky'), ['lease.json']);
    await lease.release();
  });

  it('an expired lock is taken over despite a marker that a replacer who died mid-swap left', async () => {
    const stale = await store.acquireLease('orphaned', 'crashed', 1_000);
    assert.ok(stale);
    const dir = path.join(temp.path, 'orphaned');
    const { token } = JSON.parse(await fs.readFile(path.join(dir, 'lease.json'), 'utf8')) as { token: string };
    const marker = path.join(dir, `lease.json.cas-${token}`);
    await fs.writeFile(marker, '');
    const longAgo = new Date(Date.now() - 3_600_000);
    await fs.utimes(marker, longAgo, longAgo);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const fresh = await store.acquireLease('orphaned', 'worker-b', 60_000);
    assert.ok(fresh, 'taken over');
    assert.equal(await stale.renew(), false, 'and the old holder learns it lost');
    assert.deepEqual(await filesOf('orphaned'), ['lease.json']);
    await fresh.release();
  });

  it('an expired lock is taken over once its own holder\'s marker (killed mid-renewal) is older than a time-to-live', async () => {
    const killed = await store.acquireLease('killed-mid-renewal', 'killed', 1_000);
    assert.ok(killed);
    const dir = path.join(temp.path, 'killed-mid-renewal');
    const { token } = JSON.parse(await fs.readFile(path.join(dir, 'lease.json'), 'utf8')) as { token: string };
    const marker = path.join(dir, `lease.json.cas-${token}`);
    await fs.writeFile(marker, '');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal(await store.acquireLease('killed-mid-renewal', 'worker-b', 2_000), undefined, 'not while the swap may be under way');
    const aged = new Date(Date.now() - 2_500);
    await fs.utimes(marker, aged, aged);
    const fresh = await store.acquireLease('killed-mid-renewal', 'worker-b', 2_000);
    assert.ok(fresh, 'taken over once the marker is older than the time-to-live');
    assert.deepEqual(await filesOf('killed-mid-renewal'), ['lease.json']);
    await fresh.release();
  });
});

describe('S3 session lock renewals', () => {
  let server: S3TestServer;
  let client: S3Client;
  /** When set, the next PutObject reaches the server but its answer is "lost". */
  let dropNextPutAnswer = false;

  before(async () => {
    server = await startS3Server({ bucket: 'leases' });
    client = createS3TestClient(server);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (dropNextPutAnswer && context.commandName === 'PutObjectCommand') {
          dropNextPutAnswer = false;
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
        return result;
      },
      { step: 'initialize', name: 'dropPutAnswer' },
    );
  });
  after(async () => {
    client?.destroy();
    await server?.dispose();
  });

  it('a renewal whose write landed but whose answer was lost is not taken for a loss by the next one', async () => {
    const target = { client, bucket: 'leases', key: 'sessions/lost-answer/lease.json' };
    const lease = await acquireS3Lease(target, 'lost-answer', 'worker-a', 60_000);
    assert.ok(lease);
    dropNextPutAnswer = true;
    await assert.rejects(lease.renew(), /socket hang up/);
    assert.equal(await lease.renew(), true, 'its own earlier write is recognised');
    assert.equal(await acquireS3Lease(target, 'lost-answer', 'worker-b', 60_000), undefined, 'still held');
    assert.equal(await lease.renew(), true);
    await lease.release();
    const next = await acquireS3Lease(target, 'lost-answer', 'worker-b', 60_000);
    assert.ok(next, 'released');
    assert.equal(await lease.renew(), false, 'and now lost for good');
    await next.release();
  });
});
