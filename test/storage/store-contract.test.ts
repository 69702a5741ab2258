import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { NumberedEvent } from '../../src/events/registry.js';
import { createArchiveStream } from '../../src/storage/archive.js';
import { FsSessionStore } from '../../src/storage/fs.js';
import { ArchiveIntegrityError } from '../../src/storage/integrity.js';
import { S3SessionStore } from '../../src/storage/s3.js';
import type { SessionMetadata, SessionStore } from '../../src/storage/types.js';
import { startS3Server, type S3TestServer } from '../fixtures/s3-server.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';

/** The store plus the streaming entry point both backends expose, to feed a failing source. */
type TestStore = SessionStore & { saveArchiveStream(sessionId: string, source: Readable): Promise<void> };

interface Backend {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A store over its own namespace; `shared` gives a second instance over the same one. */
  create(options?: { pageSize?: number; namespace?: string }): Promise<TestStore>;
  /** Damages the stored archive: one byte flipped, or cut in half. */
  tamper(store: TestStore, sessionId: string, how: 'flip' | 'truncate'): Promise<void>;
}

function damage(bytes: Buffer, how: 'flip' | 'truncate'): Buffer {
  if (how === 'truncate') return bytes.subarray(0, Math.floor(bytes.length / 2));
  const copy = Buffer.from(bytes);
  const at = Math.floor(copy.length / 2);
  copy[at] = (copy[at] ?? 0) ^ 0xff;
  return copy;
}

function fsBackend(): Backend {
  let temp: TempDir;
  const roots = new WeakMap<TestStore, string>();
  return {
    name: 'fs',
    async setup() {
      temp = await makeTempDir('acw-fs-store');
    },
    async teardown() {
      await temp.remove();
    },
    async create(options = {}) {
      const root = path.join(temp.path, options.namespace ?? 'default');
      const store = new FsSessionStore(root);
      await store.init();
      roots.set(store, root);
      return store;
    },
    async tamper(store, sessionId, how) {
      const dir = path.join(roots.get(store)!, sessionId);
      const pointer = JSON.parse(await fs.readFile(path.join(dir, 'archive.json'), 'utf8')) as { name: string };
      const file = path.join(dir, pointer.name);
      await fs.writeFile(file, damage(await fs.readFile(file), how));
    },
  };
}

function s3Backend(): Backend {
  let server: S3TestServer;
  let admin: S3Client;
  const bucket = 'sessions';
  const prefixes = new WeakMap<TestStore, string>();
  const stores: S3SessionStore[] = [];
  return {
    name: 's3',
    async setup() {
      server = await startS3Server();
      admin = new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
      });
    },
    async teardown() {
      for (const store of stores) store.destroy();
      admin.destroy();
      await server.dispose();
    },
    async create(options = {}) {
      const prefix = `${options.namespace ?? 'default'}/`;
      const store = new S3SessionStore({
        endpoint: server.endpoint,
        accessKey: server.accessKey,
        secretKey: server.secretKey,
        useSsl: false,
        bucket,
        prefix,
        pageSize: options.pageSize,
      });
      await store.init(); // creates the bucket on first use
      stores.push(store);
      prefixes.set(store, prefix);
      return store;
    },
    async tamper(store, sessionId, how) {
      const base = `${prefixes.get(store)!}${sessionId}/`;
      const pointerObject = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: `${base}archive.json` }));
      const pointer = JSON.parse(await pointerObject.Body!.transformToString()) as { name: string };
      const key = `${base}${pointer.name}`;
      const archive = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from(await archive.Body!.transformToByteArray());
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: damage(bytes, how) }));
    },
  };
}

function metadataFor(sessionId: string, extra: Partial<SessionMetadata> = {}): SessionMetadata {
  return {
    sessionId,
    provider: 'claude-code',
    status: 'completed',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:01:00.000Z',
    lastEventId: 2,
    turns: 1,
    hasArchive: false,
    storage: 'fs',
    ...extra,
  };
}

async function makeWorkspace(root: string): Promise<void> {
  await fs.mkdir(path.join(root, 'workspace/src/deep/er'), { recursive: true });
  await fs.writeFile(path.join(root, 'workspace/src/deep/er/file.txt'), 'nested content\n');
  await fs.writeFile(path.join(root, 'workspace/README.md'), '# hello\n');
  await fs.mkdir(path.join(root, 'workspace/empty-dir'), { recursive: true });
  await fs.symlink('README.md', path.join(root, 'workspace/link-to-readme'));
  await fs.mkdir(path.join(root, 'workspace/.git/objects/ab'), { recursive: true });
  await fs.writeFile(path.join(root, 'workspace/.git/HEAD'), 'ref: refs/heads/main\n');
  await fs.writeFile(path.join(root, 'workspace/.git/objects/ab/cdef'), randomBytes(2048));
  await fs.mkdir(path.join(root, 'state'), { recursive: true });
  await fs.writeFile(path.join(root, 'state/transcript.jsonl'), '{"type":"result"}\n');
}

/** A tar stream that delivers some real bytes and then fails, like a disk error mid-save. */
function failingArchive(sourceDir: string): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let sent = 0;
    for await (const chunk of createArchiveStream(sourceDir) as AsyncIterable<Buffer>) {
      yield chunk;
      if (++sent >= 2) throw new Error('disk went away');
    }
  }
  return Readable.from(chunks());
}

let counter = 0;
const freshId = (label: string): string => `${label}-${process.pid}-${++counter}`;

for (const backend of [fsBackend(), s3Backend()]) {
  describe(`session store contract: ${backend.name}`, () => {
    let store: TestStore;
    let temp: TempDir;

    before(async () => {
      await backend.setup();
      store = await backend.create();
      temp = await makeTempDir('acw-contract');
    });
    after(async () => {
      await temp.remove();
      await backend.teardown();
    });

    it('init is idempotent', async () => {
      await store.init();
      await store.init();
    });

    it('round-trips metadata; unknown sessions have none', async () => {
      const id = freshId('meta');
      const metadata = metadataFor(id, { title: 'Fix the bug', github: { repoUrl: 'https://github.com/a/b' } });
      await store.writeMetadata(metadata);
      assert.deepEqual(await store.readMetadata(id), metadata);
      await store.writeMetadata({ ...metadata, status: 'failed', turns: 2 });
      assert.equal((await store.readMetadata(id))?.turns, 2);
      assert.equal(await store.readMetadata(freshId('nobody')), undefined);
    });

    it('round-trips the event log in order; none is empty', async () => {
      const id = freshId('events');
      assert.deepEqual(await store.readEvents(id), []);
      const events = [
        { id: 1, event: { type: 'message', timestamp: '2025-01-01T00:00:00.000Z', message: 'one\nline two' } },
        { id: 2, event: { type: 'message', timestamp: '2025-01-01T00:00:01.000Z', message: 'ünïcødé ✓' } },
      ] as unknown as NumberedEvent[];
      await store.writeEvents(id, events);
      assert.deepEqual(await store.readEvents(id), events);
      await store.writeEvents(id, []);
      assert.deepEqual(await store.readEvents(id), []);
    });

    it('saves and restores a workspace with nested files, a symlink, an empty dir and .git', async () => {
      const id = freshId('archive');
      const source = path.join(temp.path, `${id}-src`);
      const target = path.join(temp.path, `${id}-dst`);
      await makeWorkspace(source);
      await store.saveArchive(id, source);
      await fs.mkdir(target, { recursive: true });
      await fs.writeFile(path.join(target, 'stale.txt'), 'from before');

      assert.equal(await store.restoreArchive(id, target), true);
      assert.equal(await fs.readFile(path.join(target, 'workspace/src/deep/er/file.txt'), 'utf8'), 'nested content\n');
      assert.equal(await fs.readlink(path.join(target, 'workspace/link-to-readme')), 'README.md');
      assert.deepEqual(await fs.readdir(path.join(target, 'workspace/empty-dir')), []);
      assert.deepEqual(
        await fs.readFile(path.join(target, 'workspace/.git/objects/ab/cdef')),
        await fs.readFile(path.join(source, 'workspace/.git/objects/ab/cdef')),
      );
      assert.equal(await fs.readFile(path.join(target, 'state/transcript.jsonl'), 'utf8'), '{"type":"result"}\n');
      await assert.rejects(fs.stat(path.join(target, 'stale.txt')), { code: 'ENOENT' });
    });

    it('restores the latest of several saves', async () => {
      const id = freshId('resave');
      const source = path.join(temp.path, `${id}-src`);
      await fs.mkdir(source, { recursive: true });
      for (const version of ['v1', 'v2', 'v3']) {
        await fs.writeFile(path.join(source, 'version.txt'), version);
        await store.saveArchive(id, source);
      }
      const target = path.join(temp.path, `${id}-dst`);
      assert.equal(await store.restoreArchive(id, target), true);
      assert.equal(await fs.readFile(path.join(target, 'version.txt'), 'utf8'), 'v3');
    });

    it('streams a large archive (multipart on s3) and restores it byte for byte', async () => {
      const id = freshId('large');
      const source = path.join(temp.path, `${id}-src`);
      await fs.mkdir(source, { recursive: true });
      const big = randomBytes(12 * 1024 * 1024); // incompressible, so the archive really spans parts
      await fs.writeFile(path.join(source, 'pack.bin'), big);
      await store.saveArchive(id, source);
      const target = path.join(temp.path, `${id}-dst`);
      assert.equal(await store.restoreArchive(id, target), true);
      assert.ok(big.equals(await fs.readFile(path.join(target, 'pack.bin'))));
    });

    it('has no archive to restore for a new or unknown session', async () => {
      const id = freshId('noarchive');
      await store.writeMetadata(metadataFor(id));
      assert.equal(await store.restoreArchive(id, path.join(temp.path, `${id}-dst`)), false);
      assert.equal(await store.restoreArchive(freshId('nobody'), path.join(temp.path, 'nowhere')), false);
    });

    it('keeps the previous archive when a save fails midway', async () => {
      const id = freshId('atomic');
      const source = path.join(temp.path, `${id}-src`);
      await fs.mkdir(source, { recursive: true });
      await fs.writeFile(path.join(source, 'version.txt'), 'good');
      await store.saveArchive(id, source);

      await fs.writeFile(path.join(source, 'version.txt'), 'never saved');
      await fs.writeFile(path.join(source, 'padding.bin'), randomBytes(256 * 1024));
      await assert.rejects(store.saveArchiveStream(id, failingArchive(source)), /disk went away/);

      const target = path.join(temp.path, `${id}-dst`);
      assert.equal(await store.restoreArchive(id, target), true);
      assert.equal(await fs.readFile(path.join(target, 'version.txt'), 'utf8'), 'good');
    });

    for (const how of ['flip', 'truncate'] as const) {
      it(`refuses to restore a corrupted archive (${how}) and leaves the target alone`, async () => {
        const id = freshId(`corrupt-${how}`);
        const source = path.join(temp.path, `${id}-src`);
        await makeWorkspace(source);
        await fs.writeFile(path.join(source, 'bulk.bin'), randomBytes(64 * 1024));
        await store.saveArchive(id, source);
        await backend.tamper(store, id, how);

        const target = path.join(temp.path, `${id}-dst`);
        await fs.mkdir(target, { recursive: true });
        await fs.writeFile(path.join(target, 'keep.txt'), 'local copy');
        await assert.rejects(store.restoreArchive(id, target), ArchiveIntegrityError);
        assert.deepEqual(await fs.readdir(target), ['keep.txt']);
        assert.deepEqual(
          (await fs.readdir(temp.path)).filter((name) => name.startsWith(`${id}-dst.`)),
          [],
          'no staging folder is left behind',
        );
      });
    }

    it('lists every session across pages', async () => {
      const paged = await backend.create({ namespace: `list-${process.pid}`, pageSize: 7 });
      const ids = Array.from({ length: 30 }, (_, index) => `list-${String(index).padStart(2, '0')}`);
      for (const [index, id] of ids.entries()) {
        await paged.writeMetadata(metadataFor(id, { turns: index }));
        if (index % 3 === 0) await paged.writeEvents(id, []); // more than one object per session
      }
      await paged.acquireLease('lease-only', 'someone', 60_000); // not a session: no metadata
      const listed = await paged.listSessions();
      assert.deepEqual(listed.map((session) => session.sessionId).sort(), ids);
      assert.equal(listed.find((session) => session.sessionId === 'list-05')?.turns, 5);
    });

    it('deletes every trace of a session', async () => {
      const own = await backend.create({ namespace: `delete-${process.pid}` });
      const id = freshId('delete');
      const source = path.join(temp.path, `${id}-src`);
      await makeWorkspace(source);
      await own.writeMetadata(metadataFor(id));
      await own.writeEvents(id, [
        { id: 1, event: { type: 'message', timestamp: 't', message: 'x' } },
      ] as unknown as NumberedEvent[]);
      await own.saveArchive(id, source);
      await own.saveArchive(id, source);
      const lease = await own.acquireLease(id, 'worker-a', 60_000);
      assert.ok(lease);

      assert.equal(await own.deleteSession(id), true);
      assert.equal(await own.readMetadata(id), undefined);
      assert.deepEqual(await own.readEvents(id), []);
      assert.equal(await own.restoreArchive(id, path.join(temp.path, `${id}-dst`)), false);
      assert.deepEqual(await own.listSessions(), []);
      const again = await own.acquireLease(id, 'worker-b', 60_000);
      assert.ok(again, 'the lease went with the session');
      await again.release();
      await own.deleteSession(id);
      assert.equal(await own.deleteSession(id), false);
      assert.equal(await own.deleteSession(freshId('nobody')), false);
    });

    describe('lease', () => {
      it('is exclusive while held and free again after release', async () => {
        const id = freshId('lease');
        const first = await store.acquireLease(id, 'worker-a', 60_000);
        assert.ok(first);
        assert.equal(first.owner, 'worker-a');
        assert.equal(await store.acquireLease(id, 'worker-b', 60_000), undefined);
        assert.equal(await store.acquireLease(id, 'worker-a', 60_000), undefined, 'exclusive even for the same owner');
        await first.release();
        await first.release(); // twice is harmless
        const second = await store.acquireLease(id, 'worker-b', 60_000);
        assert.ok(second);
        await second.release();
      });

      it('can be taken over once expired, and the old holder learns it lost', async () => {
        const id = freshId('lease-expiry');
        const stale = await store.acquireLease(id, 'worker-a', 150);
        assert.ok(stale);
        await sleep(250);
        const fresh = await store.acquireLease(id, 'worker-b', 60_000);
        assert.ok(fresh);
        assert.equal(await stale.renew(), false);
        await stale.release(); // must not free the new holder's lease
        assert.equal(await store.acquireLease(id, 'worker-c', 60_000), undefined);
        await fresh.release();
      });

      it('stays held across renewals', async () => {
        const id = freshId('lease-renew');
        const lease = await store.acquireLease(id, 'worker-a', 400);
        assert.ok(lease);
        const firstExpiry = lease.expiresAt;
        for (let round = 0; round < 3; round++) {
          await sleep(200);
          assert.equal(await lease.renew(), true);
          assert.equal(await store.acquireLease(id, 'worker-b', 60_000), undefined);
        }
        assert.ok(lease.expiresAt > firstExpiry);
        await lease.release();
      });

      it('goes to exactly one of many concurrent acquirers across store instances', async () => {
        const other = await backend.create();
        const id = freshId('lease-race');
        for (const ttl of [60_000, 60_000]) {
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, index) => (index % 2 ? store : other).acquireLease(id, `worker-${index}`, ttl)),
          );
          const winners = results.filter((lease) => lease !== undefined);
          assert.equal(winners.length, 1);
          await winners[0]!.release();
        }
      });

      it('goes to exactly one of many concurrent takeovers of an expired lease', async () => {
        const other = await backend.create();
        const id = freshId('lease-takeover');
        assert.ok(await store.acquireLease(id, 'crashed', 50));
        await sleep(120);
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, index) => (index % 2 ? store : other).acquireLease(id, `worker-${index}`, 60_000)),
        );
        assert.equal(results.filter((lease) => lease !== undefined).length, 1);
      });
    });
  });
}

describe('s3 store against a store that goes down', () => {
  let server: S3TestServer;
  let temp: TempDir;
  before(async () => {
    server = await startS3Server({ bucket: 'outage' });
    temp = await makeTempDir('acw-outage');
  });
  after(async () => {
    await server.dispose();
    await temp.remove();
  });

  it('accepts host:port endpoints and rides out a short outage by retrying', async () => {
    const store = new S3SessionStore({
      endpoint: server.endpoint.replace('http://', ''),
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      useSsl: false,
      bucket: 'outage',
      maxAttempts: 10,
    });
    try {
      await store.init();
      await server.stop();
      const restart = sleep(400).then(() => server.start());
      await store.writeMetadata(metadataFor('outage-1'));
      await restart;
      assert.equal((await store.readMetadata('outage-1'))?.sessionId, 'outage-1');
    } finally {
      store.destroy();
    }
  });

  it('fails clearly when the store stays down', async () => {
    const store = new S3SessionStore({
      endpoint: server.endpoint,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      useSsl: false,
      bucket: 'outage',
      maxAttempts: 2,
    });
    try {
      await server.stop();
      await assert.rejects(store.writeMetadata(metadataFor('outage-2')));
      const source = path.join(temp.path, 'src');
      await fs.mkdir(source, { recursive: true });
      await fs.writeFile(path.join(source, 'a.txt'), 'a');
      await assert.rejects(store.saveArchive('outage-2', source));
    } finally {
      store.destroy();
      await server.start();
    }
    const check = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    });
    const listed = await check.send(new ListObjectsV2Command({ Bucket: 'outage', Prefix: 'sessions/outage-2/' }));
    assert.equal(listed.KeyCount ?? 0, 0);
    check.destroy();
  });
});
