/**
 * Requests the original worker accepted and its production clients still send
 * (issue #9), answered by the real worker over HTTP. The ones that need a job to
 * run are in test/jobs/original-compat.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorResponse, postExecute, request } from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';

const INVALID_SESSION_ID = { status: 400, code: 'VALIDATION_ERROR', field: 'sessionId' } as const;

describe('original worker routes (issue #9)', () => {
  let worker: WorkerHandle;

  before(async () => {
    // Nothing here should start an agent; if something did, it fails fast against a closed port.
    worker = await startWorker({ env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', OPENAI_BASE_URL: 'http://127.0.0.1:9' } });
  });

  after(async () => {
    await worker?.dispose();
  });

  describe('POST /abort {"sessionId"}', () => {
    it('answers 404 SESSION_NOT_FOUND for a session not running here, like POST /sessions/:id/abort', async () => {
      const alias = await request(`${worker.url}/abort`, { method: 'POST', body: { sessionId: 'not-running' } });
      assertErrorResponse(alias, { status: 404, code: 'SESSION_NOT_FOUND' });
      const route = await request(`${worker.url}/sessions/not-running/abort`, { method: 'POST' });
      assert.deepEqual(alias.json, route.json);
    });

    it('answers a missing sessionId with 400 VALIDATION_ERROR on sessionId', async () => {
      for (const body of [undefined, '', {}, { session: 'x' }, [], '"x"']) {
        const res = await request(`${worker.url}/abort`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        assertErrorResponse(res, { ...INVALID_SESSION_ID, message: /sessionId is required/ });
      }
    });

    it('answers an invalid sessionId with the same 400 as an invalid id in a /sessions/:id path', async () => {
      const route = await request(`${worker.url}/sessions/.hidden/abort`, { method: 'POST' });
      assertErrorResponse(route, INVALID_SESSION_ID);
      for (const sessionId of ['.hidden', '../etc', 'a b', '', 'x'.repeat(129), 42, null, ['x'], { id: 'x' }]) {
        const res = await request(`${worker.url}/abort`, { method: 'POST', body: { sessionId } });
        assertErrorResponse(res, INVALID_SESSION_ID);
        assert.equal(res.json.message, route.json.message, JSON.stringify(sessionId));
      }
    });
  });

  describe('POST /shutdown without EXIT_AFTER_JOB', () => {
    it('answers 200 saying nothing happens, and the worker keeps serving', async () => {
      for (const body of [undefined, {}]) {
        const res = await request(`${worker.url}/shutdown`, { method: 'POST', body });
        assert.equal(res.status, 200, res.text);
        assert.ok(res.headers.get('x-container-id'));
        const answer = res.json as { exiting: boolean; message: string };
        assert.equal(answer.exiting, false);
        assert.match(answer.message, /Nothing happens/);
      }
      assert.equal(worker.proc.exitCode, null);
      assert.equal((await request(`${worker.url}/health`)).status, 200);
      const invalid = await postExecute(worker.url, {});
      assertErrorResponse(invalid, { status: 400, code: 'VALIDATION_ERROR' });
    });
  });

  describe('codingAssistantAuthentication for Codex', () => {
    it('has no flat OAuth form (the original took none): Claude’s flat object is a 400', async () => {
      const flat = { accessToken: 'sk-ant-oat01-compat', refreshToken: 'sk-ant-ort01-compat', expiresAt: Date.now() + 3_600_000 };
      for (const auth of [flat, JSON.stringify(flat)]) {
        const res = await postExecute(worker.url, { userRequest: 'Hi', codingAssistantProvider: 'CodexSDK', codingAssistantAuthentication: auth });
        assertErrorResponse(res, { status: 400, code: 'VALIDATION_ERROR', field: 'codingAssistantAuthentication' });
      }
    });
  });
});

describe('POST /shutdown with EXIT_AFTER_JOB=true on an idle worker', () => {
  it('answers 200, then exits 0', async () => {
    await using worker = await startWorker({ env: { EXIT_AFTER_JOB: 'true' } });
    const res = await request(`${worker.url}/shutdown`, { method: 'POST' });
    assert.equal(res.status, 200, res.text);
    const answer = res.json as { exiting: boolean; message: string };
    assert.equal(answer.exiting, true);
    assert.match(answer.message, /exits now/);
    assert.deepEqual(await worker.exited, { code: 0, signal: null });
    const stopping = worker.logRecords().find((record) => record.msg === 'worker stopping');
    assert.equal(stopping?.reason, 'POST /shutdown');
  });
});

describe('the original routes need the bearer token like every other one', () => {
  it('POST /abort and POST /shutdown without a token → 401, and nothing stops', async () => {
    await using worker = await startWorker({ env: { WORKER_API_TOKEN: 'compat-token-0123456789', EXIT_AFTER_JOB: 'true' } });
    for (const [path, body] of [['/abort', { sessionId: 'x' }], ['/shutdown', undefined]] as const) {
      assertErrorResponse(await request(`${worker.url}${path}`, { method: 'POST', body }), { status: 401, code: 'UNAUTHORIZED' });
    }
    assert.equal(worker.proc.exitCode, null);
    const authorised = await request(`${worker.url}/abort`, { method: 'POST', body: { sessionId: 'x' }, token: 'compat-token-0123456789' });
    assertErrorResponse(authorised, { status: 404, code: 'SESSION_NOT_FOUND' });
  });
});
