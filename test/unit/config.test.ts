import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/env.js';

describe('loadConfig', () => {
  it('applies the contract defaults: port 5000, fs storage, one slot', () => {
    const config = loadConfig({});
    assert.equal(config.port, 5000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.hostSource, 'default-without-token');
    assert.deepEqual(config.storage, { kind: 'fs', sessionsDir: path.resolve('./data/sessions') });
    assert.equal(config.maxConcurrentJobs, 1);
    assert.equal(config.exitAfterJob, false);
    assert.deepEqual(config.gitAllowedUrlPrefixes.map((prefix) => prefix.href), ['https://github.com/']);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.storage));
  });

  it('selects s3 when MINIO_ENDPOINT is set', () => {
    const config = loadConfig({ MINIO_ENDPOINT: 'minio:9000', MINIO_USE_SSL: 'true' });
    assert.equal(config.storage.kind, 's3');
    assert.equal(config.storage.kind === 's3' && config.storage.useSsl, true);
  });

  it('reports every invalid value at once', () => {
    const error = (() => {
      try {
        loadConfig({ PORT: 'abc', MAX_CONCURRENT_JOBS: '0', STORAGE: 'ftp', EXIT_AFTER_JOB: 'maybe' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    for (const name of ['PORT', 'MAX_CONCURRENT_JOBS', 'STORAGE', 'EXIT_AFTER_JOB']) {
      assert.ok(error.problems.some((problem) => problem.startsWith(name)), `${name} is reported`);
    }
  });

  it('ROLE=gateway and ROLE=worker need REDIS_URL and a 32-byte JOB_ENCRYPTION_KEY; standalone needs neither (issue #10)', () => {
    assert.equal(loadConfig({}).role, 'standalone');
    assert.equal(loadConfig({}).queue, undefined);
    for (const role of ['gateway', 'worker']) {
      assert.throws(
        () => loadConfig({ ROLE: role }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.some((problem) => problem.startsWith('REDIS_URL') && problem.includes(`ROLE=${role}`)) &&
          error.problems.some((problem) => problem.startsWith('JOB_ENCRYPTION_KEY')),
      );
    }
    const shortKey = 'ab'.repeat(16);
    assert.throws(
      () => loadConfig({ ROLE: 'worker', REDIS_URL: 'http://redis:6379', JOB_ENCRYPTION_KEY: shortKey }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => problem.startsWith('REDIS_URL: must be a redis://')) &&
        error.problems.some((problem) => problem.startsWith('JOB_ENCRYPTION_KEY: must be 32 bytes')) &&
        !error.message.includes(shortKey),
    );
    const hex = 'cd'.repeat(32);
    const base64 = Buffer.from(hex, 'hex').toString('base64');
    const config = loadConfig({ ROLE: 'gateway', REDIS_URL: 'rediss://:pw@redis:6380/2', JOB_ENCRYPTION_KEY: base64, QUEUE_MAX: '50' });
    assert.deepEqual(config.queue, { redisUrl: 'rediss://:pw@redis:6380/2', encryptionKeyHex: hex, max: 50 });
    assert.equal(loadConfig({ ROLE: 'gateway', REDIS_URL: 'redis://r:6379', JOB_ENCRYPTION_KEY: hex }).queue?.max, 1000);
  });

  it('takes an empty URL variable as unset (Compose passes unset variables on as empty) (issue #11)', () => {
    const config = loadConfig({ ANTHROPIC_BASE_URL: '', OPENAI_BASE_URL: ' ', DB_BASE_URL: '' });
    assert.deepEqual(config.agentEnv, {});
    assert.equal(config.dbBaseUrl, undefined);
    assert.throws(() => loadConfig({ ANTHROPIC_BASE_URL: 'not a url' }), ConfigError);
    assert.equal(loadConfig({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' }).agentEnv.ANTHROPIC_BASE_URL, 'http://127.0.0.1:9');
  });

  it('never echoes a secret value in its problems', () => {
    assert.throws(
      () => loadConfig({ STORAGE: 's3', MINIO_SECRET_KEY: 'super-secret-value' }),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('super-secret-value'),
    );
  });

  it('HOST defaults to 127.0.0.1 without WORKER_API_TOKEN and to 0.0.0.0 with one; an explicit HOST wins (issue #8)', () => {
    assert.deepEqual(pick(loadConfig({})), { host: '127.0.0.1', hostSource: 'default-without-token' });
    assert.deepEqual(pick(loadConfig({ WORKER_API_TOKEN: '' })), { host: '127.0.0.1', hostSource: 'default-without-token' });
    assert.deepEqual(pick(loadConfig({ WORKER_API_TOKEN: 'secret' })), { host: '0.0.0.0', hostSource: 'default-with-token' });
    assert.deepEqual(pick(loadConfig({ HOST: '0.0.0.0' })), { host: '0.0.0.0', hostSource: 'HOST' });
    assert.deepEqual(pick(loadConfig({ HOST: '127.0.0.1', WORKER_API_TOKEN: 'secret' })), { host: '127.0.0.1', hostSource: 'HOST' });
  });

  it('parses GIT_ALLOWED_URL_PREFIXES as URLs (issue #8)', () => {
    const config = loadConfig({ GIT_ALLOWED_URL_PREFIXES: ' https://GitHub.com:443/acme/ , http://127.0.0.1:4 ,' });
    assert.deepEqual(
      config.gitAllowedUrlPrefixes.map((prefix) => ({ ...prefix })),
      [
        { href: 'https://github.com/acme/', protocol: 'https:', host: 'github.com', path: '/acme' },
        { href: 'http://127.0.0.1:4/', protocol: 'http:', host: '127.0.0.1:4', path: '' },
      ],
    );
  });

  it('reports every invalid GIT_ALLOWED_URL_PREFIXES entry, never echoing credentials', () => {
    const error = (() => {
      try {
        loadConfig({
          GIT_ALLOWED_URL_PREFIXES: 'https://github.com/,github.com/acme,ssh://git@host/x,https://bot:hunter2@ghe.example.com/,https://github.com/?org=a',
        });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    const mine = error.problems.filter((problem) => problem.startsWith('GIT_ALLOWED_URL_PREFIXES'));
    assert.equal(mine.length, 4, error.message);
    assert.match(error.message, /"github\.com\/acme" is not a URL/);
    assert.match(error.message, /"ssh:\/\/git@host\/x" must be an http or https URL/);
    assert.match(error.message, /must not contain credentials/);
    assert.match(error.message, /"https:\/\/github\.com\/\?org=a" must not have a query or fragment/);
    assert.ok(!error.message.includes('hunter2'), error.message);
  });

  it('passes LLM endpoints on to agents', () => {
    const config = loadConfig({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/' });
    assert.deepEqual(config.agentEnv, { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/' });
  });

  it('bounds the local session cache by size and age (issue #8)', () => {
    assert.deepEqual(loadConfig({}).localCache, { maxBytes: 10 * 1024 ** 3, maxAgeMs: 24 * 3_600_000 });
    assert.deepEqual(loadConfig({ LOCAL_CACHE_MAX_BYTES: '0', LOCAL_CACHE_MAX_AGE_MS: '60000' }).localCache, {
      maxBytes: 0,
      maxAgeMs: 60_000,
    });
    assert.throws(
      () => loadConfig({ LOCAL_CACHE_MAX_BYTES: '5GB', LOCAL_CACHE_MAX_AGE_MS: '-1' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        ['LOCAL_CACHE_MAX_BYTES', 'LOCAL_CACHE_MAX_AGE_MS'].every((name) => error.problems.some((problem) => problem.startsWith(name))),
    );
  });
});

function pick(config: { host: string; hostSource: string }): { host: string; hostSource: string } {
  return { host: config.host, hostSource: config.hostSource };
}
