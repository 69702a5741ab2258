import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { assertErrorResponse, request } from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe('health, status and unknown routes', () => {
  let worker: WorkerHandle;

  before(async () => {
    worker = await startWorker();
  });

  after(async () => {
    await worker?.dispose();
  });

  it('GET /health answers 200 with the worker idle', async () => {
    const before = Date.now();
    const res = await request(`${worker.url}/health`);
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = res.json as Record<string, unknown>;
    assert.equal(body.status, 'ok');
    assert.equal(body.workerStatus, 'idle');
    assert.equal(typeof body.containerId, 'string');
    assert.notEqual(body.containerId, '');
    assert.equal(typeof body.timestamp, 'string');
    assert.match(body.timestamp as string, ISO_8601);
    const stamped = Date.parse(body.timestamp as string);
    assert.ok(Math.abs(stamped - before) < 60_000, `timestamp ${String(body.timestamp)} is not now`);
  });

  it('X-Container-ID is the worker hostname and matches containerId', async () => {
    const res = await request(`${worker.url}/health`);
    const header = res.headers.get('x-container-id');
    assert.equal(header, hostname());
    assert.equal((res.json as Record<string, unknown>).containerId, header);
  });

  it('GET /status answers 200 {status:"idle"} when no job runs', async () => {
    const res = await request(`${worker.url}/status`);
    assert.equal(res.status, 200, res.text);
    assert.equal((res.json as Record<string, unknown>).status, 'idle');
    assert.equal(res.headers.get('x-container-id'), hostname());
  });

  it('an unknown route answers 404 NOT_FOUND with the contract error body', async () => {
    for (const [method, path] of [
      ['GET', '/no-such-route'],
      ['POST', '/no/such/route'],
      ['GET', '/sessions/x/y/z'],
      ['PUT', '/execute-now'],
    ] as const) {
      const res = await request(`${worker.url}${path}`, { method });
      assertErrorResponse(res, { status: 404, code: 'NOT_FOUND' });
      assert.equal(res.headers.get('x-container-id'), hostname(), `${method} ${path}`);
    }
  });

  it('a known path with the wrong method answers 404 or 405 with the contract error body', async () => {
    for (const [method, path] of [
      ['GET', '/execute'],
      ['DELETE', '/health'],
      ['PUT', '/sessions/abc'],
    ] as const) {
      const res = await request(`${worker.url}${path}`, { method });
      assertErrorResponse(res, { status: [404, 405] });
    }
  });

  it('error answers carry X-Container-ID too', async () => {
    const res = await request(`${worker.url}/execute`, { method: 'POST', body: '{bad' });
    assertErrorResponse(res, { status: 400, code: 'VALIDATION_ERROR' });
    assert.equal(res.headers.get('x-container-id'), hostname());
  });

  it('GET /sessions carries X-Container-ID', async () => {
    const res = await request(`${worker.url}/sessions`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-container-id'), hostname());
  });

  it('the worker is still running after all of the above', async () => {
    assert.equal(worker.proc.exitCode, null);
    const res = await request(`${worker.url}/health`);
    assert.equal(res.status, 200);
  });
});
