import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from '../fixtures/sse.js';
import { startWorker, startWorkerExpectingFailure, type FailedStart } from '../fixtures/worker.js';

/** The output names `name` as a whole variable (not as part of a longer one). */
function assertNames(result: FailedStart, name: string): void {
  const pattern = new RegExp(`(^|[^A-Z0-9_])${name}([^A-Z0-9_]|$)`, 'm');
  assert.match(result.output, pattern, `start-up output does not name ${name}:\n${result.output}`);
}

function assertFailedStart(result: FailedStart): void {
  assert.equal(typeof result.code, 'number', `expected an exit code, got signal ${result.signal}:\n${result.output}`);
  assert.notEqual(result.code, 0, `expected a non-zero exit code:\n${result.output}`);
}

describe('configuration errors stop start-up', () => {
  it('several bad values at once → non-zero exit naming every one of them', async () => {
    const result = await startWorkerExpectingFailure({
      PORT: 'abc',
      MAX_CONCURRENT_JOBS: '0',
      STORAGE: 'ftp',
      LOG_LEVEL: 'loud',
    });
    assertFailedStart(result);
    for (const name of ['PORT', 'MAX_CONCURRENT_JOBS', 'STORAGE', 'LOG_LEVEL']) assertNames(result, name);
  });

  it('EXIT_AFTER_JOB=maybe → non-zero exit naming it', async () => {
    const result = await startWorkerExpectingFailure({ EXIT_AFTER_JOB: 'maybe' });
    assertFailedStart(result);
    assertNames(result, 'EXIT_AFTER_JOB');
  });

  it('out-of-range and non-numeric numbers → non-zero exit naming each', async () => {
    const result = await startWorkerExpectingFailure({
      PORT: '70000',
      MAX_CONCURRENT_JOBS: '1.5',
      MAX_REQUEST_BYTES: '-1',
      KEEPALIVE_MS: 'soon',
      SHUTDOWN_GRACE_MS: 'x',
    });
    assertFailedStart(result);
    for (const name of ['PORT', 'MAX_CONCURRENT_JOBS', 'MAX_REQUEST_BYTES', 'KEEPALIVE_MS', 'SHUTDOWN_GRACE_MS']) {
      assertNames(result, name);
    }
  });

  it('MINIO_USE_SSL=perhaps → non-zero exit naming it', async () => {
    const result = await startWorkerExpectingFailure({ MINIO_USE_SSL: 'perhaps' });
    assertFailedStart(result);
    assertNames(result, 'MINIO_USE_SSL');
  });

  it('STORAGE=s3 without MINIO_ENDPOINT → non-zero exit naming the gap', async () => {
    const result = await startWorkerExpectingFailure({ STORAGE: 's3' });
    assertFailedStart(result);
    assert.match(result.output, /MINIO_ENDPOINT|STORAGE/, result.output);
  });

  it('GIT_ALLOWED_URL_PREFIXES with invalid entries → exit 78 naming each problem (issue #8)', async () => {
    const result = await startWorkerExpectingFailure({
      GIT_ALLOWED_URL_PREFIXES:
        'https://github.com/,github.com/acme,ssh://git@example.com/x,https://bot:hunter2@ghe.example.com/,https://github.com/acme?x=1,https://github.com/#frag',
    });
    assert.equal(result.code, 78, `expected exit code 78:\n${result.output}`);
    assertNames(result, 'GIT_ALLOWED_URL_PREFIXES');
    assert.match(result.output, /"github\.com\/acme" is not a URL/);
    assert.match(result.output, /"ssh:\/\/git@example\.com\/x" must be an http or https URL/);
    assert.match(result.output, /"https:\/\/…@ghe\.example\.com\/" must not contain credentials/);
    assert.match(result.output, /"https:\/\/github\.com\/acme\?x=1" must not have a query or fragment/);
    assert.match(result.output, /"https:\/\/github\.com\/#frag" must not have a query or fragment/);
    assert.ok(!result.output.includes('hunter2'), `the output repeats a credential:\n${result.output}`);
  });

  it('the same variables with valid values start the worker (control)', async () => {
    await using worker = await startWorker({
      env: {
        MAX_CONCURRENT_JOBS: '2',
        STORAGE: 'fs',
        LOG_LEVEL: 'info',
        EXIT_AFTER_JOB: 'false',
        MAX_REQUEST_BYTES: '4096',
        KEEPALIVE_MS: '1000',
        SHUTDOWN_GRACE_MS: '1000',
        MINIO_USE_SSL: 'false',
        GIT_ALLOWED_URL_PREFIXES: 'https://github.com/acme, http://127.0.0.1:4',
      },
    });
    const res = await request(`${worker.url}/health`);
    assert.equal(res.status, 200, res.text);
    assert.equal((res.json as Record<string, unknown>).status, 'ok');
  });
});
