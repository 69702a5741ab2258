import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { checkHandbackTtl, handbackFromOauth, type CredentialHandback, type HandbackCredentials } from '../../src/credentials/handback.js';
import { MemoryHandback } from '../../src/credentials/memory-handback.js';
import { RedisHandback } from '../../src/credentials/redis-handback.js';
import { SealedPayloadError } from '../../src/queue/job-payload.js';
import { keys } from '../../src/queue/keys.js';
import { startRedisServer, type RedisTestServer } from '../fixtures/redis-server.js';

const SHORT_TTL_MS = 150;

let counter = 0;
/** Fresh, recognisable credentials, so a leak of any of them can be searched for. */
function credentials(): HandbackCredentials {
  counter += 1;
  return {
    accessToken: `sk-ant-oat01-HANDBACKACCESS${counter}-${randomBytes(8).toString('hex')}`,
    refreshToken: `sk-ant-ort01-HANDBACKREFRESH${counter}-${randomBytes(8).toString('hex')}`,
    expiresAt: Date.now() + 28_800_000,
  };
}

function sessionId(): string {
  return `sess-${randomBytes(6).toString('hex')}`;
}

interface Backend {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  create(ttlMs: number): CredentialHandback;
}

function memoryBackend(): Backend {
  const made: MemoryHandback[] = [];
  return {
    name: 'memory',
    async setup() {},
    async teardown() {
      for (const handback of made) handback.close();
    },
    create(ttlMs) {
      const handback = new MemoryHandback(ttlMs);
      made.push(handback);
      return handback;
    },
  };
}

function redisBackend(): Backend & { server(): RedisTestServer; client(): Redis; key: Buffer } {
  let server: RedisTestServer;
  let client: Redis;
  const key = randomBytes(32);
  return {
    name: 'redis',
    key,
    async setup() {
      server = await startRedisServer();
      client = server.client();
    },
    async teardown() {
      await server.dispose();
    },
    create(ttlMs) {
      return new RedisHandback(client, key, ttlMs);
    },
    server: () => server,
    client: () => client,
  };
}

const memory = memoryBackend();
const redis = redisBackend();

for (const backend of [memory, redis] as Backend[]) {
  describe(`credential handback: ${backend.name} (issue #12)`, () => {
    before(() => backend.setup());
    after(() => backend.teardown());

    it('gives the credentials once, then nothing', async () => {
      const handback = backend.create(60_000);
      const id = sessionId();
      const creds = credentials();
      await handback.put(id, creds);
      assert.deepEqual(await handback.take(id), creds);
      assert.equal(await handback.take(id), undefined);
    });

    it('has nothing for a session that was never given any', async () => {
      assert.equal(await backend.create(60_000).take(sessionId()), undefined);
    });

    it('keeps only the newest login of a session, and sessions apart', async () => {
      const handback = backend.create(60_000);
      const [a, b] = [sessionId(), sessionId()];
      const older = credentials();
      const newer = credentials();
      const other = credentials();
      await handback.put(a, older);
      await handback.put(a, newer);
      await handback.put(b, other);
      assert.deepEqual(await handback.take(a), newer);
      assert.equal(await handback.take(a), undefined);
      assert.deepEqual(await handback.take(b), other);
    });

    it('keeps credentials without refresh token or expiry as they are', async () => {
      const handback = backend.create(60_000);
      const id = sessionId();
      await handback.put(id, { accessToken: 'sk-ant-oat01-ONLYACCESS' });
      assert.deepEqual(await handback.take(id), { accessToken: 'sk-ant-oat01-ONLYACCESS' });
    });

    it('forgets the credentials when their time runs out', async () => {
      const handback = backend.create(SHORT_TTL_MS);
      const id = sessionId();
      await handback.put(id, credentials());
      await sleep(SHORT_TTL_MS * 3);
      assert.equal(await handback.take(id), undefined);
    });

    it('a later put starts the time again', async () => {
      // 700 + 700 ms outlive the first put's 1 s; the second put's time has 300 ms to spare.
      const handback = backend.create(1_000);
      const id = sessionId();
      await handback.put(id, credentials());
      await sleep(700);
      const newer = credentials();
      await handback.put(id, newer);
      await sleep(700);
      assert.deepEqual(await handback.take(id), newer);
    });

    it('hands the credentials to one of two readers asking at once', async () => {
      const handback = backend.create(60_000);
      const id = sessionId();
      const creds = credentials();
      await handback.put(id, creds);
      const taken = await Promise.all([handback.take(id), handback.take(id)]);
      assert.equal(taken.filter((t) => t !== undefined).length, 1);
      assert.deepEqual(taken.find((t) => t !== undefined), creds);
    });
  });
}

describe('credential handback: memory specifics', () => {
  it('keeps a copy, not the caller\'s object', async () => {
    const handback = new MemoryHandback(60_000);
    const id = sessionId();
    const creds = credentials();
    const original = { ...creds };
    await handback.put(id, creds);
    creds.accessToken = 'changed afterwards';
    assert.deepEqual(await handback.take(id), original);
    handback.close();
  });

  it('forgets everything on close', async () => {
    const handback = new MemoryHandback(60_000);
    const id = sessionId();
    await handback.put(id, credentials());
    handback.close();
    assert.equal(await handback.take(id), undefined);
  });

  it('refuses a time to live Redis could not take', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new MemoryHandback(bad), RangeError);
      assert.throws(() => checkHandbackTtl(bad), RangeError);
    }
  });

  it('takes the tokens and expiry of a refreshed Claude login, nothing else', () => {
    assert.deepEqual(
      handbackFromOauth({ accessToken: 'a', refreshToken: 'r', expiresAt: 5, scopes: ['user:inference'], subscriptionType: 'max' }),
      { accessToken: 'a', refreshToken: 'r', expiresAt: 5 },
    );
    assert.deepEqual(handbackFromOauth({ accessToken: 'a' }), { accessToken: 'a' });
  });
});

describe('credential handback: redis specifics', () => {
  before(() => redis.setup());
  after(() => redis.teardown());

  it('keeps no token in Redis in plain text', async () => {
    const handback = new RedisHandback(redis.client(), redis.key, 60_000);
    const id = sessionId();
    const creds = credentials();
    await handback.put(id, creds);
    const dump = await redis.server().dumpKeyspace();
    assert.match(dump, new RegExp(`^${keys.credentials(id)} string `, 'm'));
    for (const secret of [creds.accessToken, creds.refreshToken!, 'HANDBACKACCESS', 'HANDBACKREFRESH', 'sk-ant-']) {
      assert.ok(!dump.includes(secret), `Redis holds ${secret} in plain text`);
    }
    const stored = (await redis.client().get(keys.credentials(id)))!;
    assert.ok(!Buffer.from(stored, 'base64').toString('latin1').includes('HANDBACK'), 'not merely encoded');
    assert.deepEqual(await handback.take(id), creds);
    assert.equal(await redis.client().exists(keys.credentials(id)), 0, 'the read deleted the key');
  });

  it('sets the expiry on the key itself (PX)', async () => {
    const handback = new RedisHandback(redis.client(), redis.key, 30_000);
    const id = sessionId();
    await handback.put(id, credentials());
    const pttl = await redis.client().pttl(keys.credentials(id));
    assert.ok(pttl > 25_000 && pttl <= 30_000, `pttl ${pttl}`);
    await handback.take(id);
  });

  it('cannot be opened with another key, nor as another session', async () => {
    const id = sessionId();
    await new RedisHandback(redis.client(), redis.key, 60_000).put(id, credentials());
    const stranger = new RedisHandback(redis.client(), randomBytes(32), 60_000);
    await assert.rejects(stranger.take(id), SealedPayloadError);
    assert.equal(await redis.client().exists(keys.credentials(id)), 0, 'one read, even a failed one');

    const [from, to] = [sessionId(), sessionId()];
    const handback = new RedisHandback(redis.client(), redis.key, 60_000);
    await handback.put(from, credentials());
    const sealed = (await redis.client().get(keys.credentials(from)))!;
    await redis.client().set(keys.credentials(to), sealed, 'PX', 60_000);
    await assert.rejects(handback.take(to), SealedPayloadError);
  });
});
