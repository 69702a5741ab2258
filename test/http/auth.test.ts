import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { assertErrorResponse, request, type RequestOptions } from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';

const TOKEN = `wkr-TOKEN-${randomBytes(12).toString('hex')}`;
const WRONG_TOKEN = `wkr-WRONG-${randomBytes(12).toString('hex')}`;

interface Endpoint {
  method: string;
  path: string;
  body?: unknown;
  /** Status once authorised; none of these reaches a coding agent. */
  authorised: number;
}

// With the right token each request still fails validation or lookup, so no job runs.
const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/status', authorised: 200 },
  { method: 'GET', path: '/sessions', authorised: 200 },
  { method: 'POST', path: '/execute', body: {}, authorised: 400 },
  { method: 'GET', path: '/sessions/no-such-session', authorised: 404 },
  { method: 'DELETE', path: '/sessions/no-such-session', authorised: 404 },
  { method: 'POST', path: '/sessions/no-such-session/abort', authorised: 404 },
  { method: 'GET', path: '/sessions/no-such-session/stream', authorised: 404 },
];

describe('bearer token auth (WORKER_API_TOKEN set)', () => {
  let worker: WorkerHandle;

  before(async () => {
    worker = await startWorker({ env: { WORKER_API_TOKEN: TOKEN } });
  });

  after(async () => {
    await worker?.dispose();
  });

  const call = (endpoint: Endpoint, auth: Pick<RequestOptions, 'headers' | 'token'>) =>
    request(`${worker.url}${endpoint.path}`, { method: endpoint.method, body: endpoint.body, ...auth });

  it('GET /health needs no token', async () => {
    const res = await request(`${worker.url}/health`);
    assert.equal(res.status, 200, res.text);
    assert.equal((res.json as Record<string, unknown>).status, 'ok');
  });

  it('GET /ready (the readiness probe) needs no token either', async () => {
    const res = await request(`${worker.url}/ready`);
    assert.deepEqual([res.status, res.json], [200, { ready: true }]);
  });

  it('GET /health also works with a wrong token', async () => {
    const res = await request(`${worker.url}/health`, { token: WRONG_TOKEN });
    assert.equal(res.status, 200, res.text);
  });

  for (const endpoint of ENDPOINTS) {
    const name = `${endpoint.method} ${endpoint.path}`;

    it(`${name} without a token → 401 UNAUTHORIZED`, async () => {
      const res = await call(endpoint, {});
      assertErrorResponse(res, { status: 401, code: 'UNAUTHORIZED' });
    });

    it(`${name} with a wrong token → 401 UNAUTHORIZED`, async () => {
      const res = await call(endpoint, { token: WRONG_TOKEN });
      assertErrorResponse(res, { status: 401, code: 'UNAUTHORIZED' });
    });

    it(`${name} with the token under another scheme or as a prefix → 401`, async () => {
      for (const authorization of [`Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer ']) {
        const res = await call(endpoint, { headers: { authorization } });
        assertErrorResponse(res, { status: 401, code: 'UNAUTHORIZED' });
      }
    });

    it(`${name} with the right token → ${endpoint.authorised}`, async () => {
      const res = await call(endpoint, { token: TOKEN });
      assert.equal(res.status, endpoint.authorised, `${name}: ${res.status} ${res.text}`);
      assert.ok(res.headers.get('x-container-id'), 'X-Container-ID missing');
    });
  }

  it('an unauthorised POST /execute starts nothing: GET /status stays idle', async () => {
    const res = await request(`${worker.url}/execute`, {
      method: 'POST',
      body: { userRequest: 'hello', codingAssistantProvider: 'claude-code', codingAssistantAuthentication: 'sk-ant-api03-x' },
    });
    assertErrorResponse(res, { status: 401, code: 'UNAUTHORIZED' });
    const status = await request(`${worker.url}/status`, { token: TOKEN });
    assert.equal(status.status, 200, status.text);
    assert.equal((status.json as Record<string, unknown>).status, 'idle');
    const sessions = await request(`${worker.url}/sessions`, { token: TOKEN });
    assert.equal((sessions.json as Record<string, unknown>).count, 0, sessions.text);
  });

  it('neither the token nor a wrong one appears in the logs', async () => {
    const logs = worker.logs();
    assert.ok(logs.length > 0, 'no logs captured');
    assert.ok(!logs.includes(TOKEN), 'WORKER_API_TOKEN appears in the worker logs');
    assert.ok(!logs.includes(WRONG_TOKEN), 'a client-sent bearer token appears in the worker logs');
  });
});
