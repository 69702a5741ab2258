import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/env.js';

describe('loadConfig', () => {
  it('applies the contract defaults: port 5000, fs storage, one slot', () => {
    const config = loadConfig({});
    assert.equal(config.port, 5000);
    assert.equal(config.host, '0.0.0.0');
    assert.deepEqual(config.storage, { kind: 'fs', sessionsDir: path.resolve('./data/sessions') });
    assert.equal(config.maxConcurrentJobs, 1);
    assert.equal(config.exitAfterJob, false);
    assert.deepEqual(config.gitAllowedUrlPrefixes, ['https://github.com/']);
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

  it('never echoes a secret value in its problems', () => {
    assert.throws(
      () => loadConfig({ STORAGE: 's3', MINIO_SECRET_KEY: 'super-secret-value' }),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('super-secret-value'),
    );
  });

  it('passes LLM endpoints on to agents', () => {
    const config = loadConfig({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/' });
    assert.deepEqual(config.agentEnv, { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/' });
  });
});
