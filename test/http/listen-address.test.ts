import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from '../fixtures/sse.js';
import { startWorker, type LogRecord, type WorkerHandle } from '../fixtures/worker.js';

const API_TOKEN = 'listen-test-token-4c3b2a19';
const WARN = 40;

function listeningRecord(worker: WorkerHandle): LogRecord {
  const record = worker.logRecords().find((r) => r.msg === 'worker listening');
  assert.ok(record, `no "worker listening" record:\n${worker.logs()}`);
  return record;
}

function warnings(worker: WorkerHandle): LogRecord[] {
  return worker.logRecords().filter((r) => r.level === WARN && /WORKER_API_TOKEN/.test(String(r.msg)));
}

/** Issue #8: an API that runs code must not listen on every interface without a token by default. */
describe('where the worker listens (HOST default)', () => {
  it('no WORKER_API_TOKEN and no HOST → listens on 127.0.0.1 and says why', async () => {
    // The fixture sets HOST=127.0.0.1; `undefined` removes it so the default applies.
    await using worker = await startWorker({ env: { HOST: undefined } });
    const record = listeningRecord(worker);
    assert.equal(record.address, '127.0.0.1', JSON.stringify(record));
    assert.match(String(record.reason), /no WORKER_API_TOKEN/);
    assert.equal(new URL(worker.url).hostname, '127.0.0.1');
    const health = await request(`http://127.0.0.1:${worker.port}/health`);
    assert.equal(health.status, 200, health.text);
    const status = await request(`http://127.0.0.1:${worker.port}/status`);
    assert.equal(status.status, 200, 'no token is needed');
    assert.deepEqual(warnings(worker), []);
  });

  it('WORKER_API_TOKEN and no HOST → listens on 0.0.0.0 and requires the token', async () => {
    await using worker = await startWorker({ env: { HOST: undefined, WORKER_API_TOKEN: API_TOKEN } });
    const record = listeningRecord(worker);
    assert.equal(record.address, '0.0.0.0', JSON.stringify(record));
    assert.match(String(record.reason), /WORKER_API_TOKEN is set/);
    assert.ok(!worker.logs().includes(API_TOKEN), 'the token is not logged');
    // 0.0.0.0 includes the loopback interface.
    const health = await request(`http://127.0.0.1:${worker.port}/health`);
    assert.equal(health.status, 200, health.text);
    const refused = await request(`http://127.0.0.1:${worker.port}/status`);
    assert.equal(refused.status, 401, refused.text);
    const allowed = await request(`http://127.0.0.1:${worker.port}/status`, { token: API_TOKEN });
    assert.equal(allowed.status, 200, allowed.text);
    assert.deepEqual(warnings(worker), []);
  });

  it('an explicit HOST without WORKER_API_TOKEN is honoured, with a start-up warning', async () => {
    await using worker = await startWorker({ env: { HOST: '0.0.0.0' } });
    const record = listeningRecord(worker);
    assert.equal(record.address, '0.0.0.0', JSON.stringify(record));
    assert.match(String(record.reason), /HOST is set/);
    const [warning, ...more] = warnings(worker);
    assert.ok(warning, `no warning:\n${worker.logs()}`);
    assert.deepEqual(more, []);
    assert.match(String(warning.msg), /HOST=0\.0\.0\.0 without WORKER_API_TOKEN/);
    assert.match(String(warning.msg), /reachable without a token/);
  });

  it('an explicit loopback HOST without WORKER_API_TOKEN needs no warning', async () => {
    await using worker = await startWorker({ env: { HOST: '127.0.0.1' } });
    const record = listeningRecord(worker);
    assert.equal(record.address, '127.0.0.1', JSON.stringify(record));
    assert.match(String(record.reason), /HOST is set/);
    assert.deepEqual(warnings(worker), []);
  });

  it('an explicit HOST with WORKER_API_TOKEN is honoured without a warning', async () => {
    await using worker = await startWorker({ env: { HOST: '127.0.0.1', WORKER_API_TOKEN: API_TOKEN } });
    const record = listeningRecord(worker);
    assert.equal(record.address, '127.0.0.1', JSON.stringify(record));
    assert.deepEqual(warnings(worker), []);
  });
});
