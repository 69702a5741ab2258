import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient, WorkerApiError, type FetchLike } from '../../src/client/index.js';
import { startWorker } from '../fixtures/worker.js';
import { startRig } from '../jobs/helpers.js';
import { collect, jobRequest, slowModel } from './helpers.js';

/** A predicate for assert.rejects: a WorkerApiError with these fields. */
function apiError(expected: { status: number; code: string; field?: string; retryAfter?: number }) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof WorkerApiError, `expected a WorkerApiError, got ${String(error)}`);
    assert.equal(error.status, expected.status);
    assert.equal(error.code, expected.code);
    assert.ok(error.message.length > 0);
    if (expected.field !== undefined) assert.equal(error.field, expected.field);
    if (expected.retryAfter !== undefined) assert.equal(error.retryAfter, expected.retryAfter);
    return true;
  };
}

describe('client: errors', () => {
  it('429: waits as Retry-After asks and runs the job once the slot is free; a small wait bound gives up with WORKER_BUSY', async () => {
    const rig = await startRig(slowModel(1_000), { MAX_CONCURRENT_JOBS: '1' });
    try {
      const calls: Array<{ method: string; url: string; status: number; at: number }> = [];
      const recordingFetch: FetchLike = async (input, init) => {
        const response = await fetch(input, init);
        calls.push({ method: init.method ?? 'GET', url: input, status: response.status, at: performance.now() });
        return response;
      };
      const client = createClient({ baseUrl: rig.worker.url, fetch: recordingFetch });
      const first = collect(client.execute(jobRequest('First')));
      await rig.fake.waitForMainRequest(1);

      const impatient = createClient({ baseUrl: rig.worker.url, retry: { maxWaitMs: 1_000 } });
      await assert.rejects(collect(impatient.execute(jobRequest('Impatient'))), apiError({ status: 429, code: 'WORKER_BUSY', retryAfter: 5 }));

      const second = collect(client.execute(jobRequest('Second')));
      const [firstEvents, secondEvents] = await Promise.all([first, second]);
      const firstEnd = firstEvents.at(-1)!.event;
      const secondStart = secondEvents[0]!.event;
      assert.equal(firstEnd.type, 'completed', JSON.stringify(firstEnd));
      assert.equal(secondEvents.at(-1)!.event.type, 'completed', JSON.stringify(secondEvents.at(-1)));
      assert.ok(Date.parse(secondStart.timestamp) >= Date.parse(firstEnd.timestamp), 'the second job ran after the first');

      const posts = calls.filter((call) => call.method === 'POST' && call.url.endsWith('/execute'));
      assert.equal(posts[0]!.status, 200);
      assert.equal(posts.at(-1)!.status, 200);
      const refused = posts.slice(1, -1);
      assert.ok(refused.length >= 1, 'the second job was refused at first');
      assert.ok(refused.every((call) => call.status === 429));
      // Retry-After is 5 s: no retry came sooner (a lower bound the client guarantees, not a speed limit).
      for (let index = 1; index < posts.length - 1; index++) {
        assert.ok(posts[index + 1]!.at - posts[index]!.at >= 4_900, `retry ${index} waited for Retry-After`);
      }
    } finally {
      await rig.close();
    }
  });

  it('400 with its field, 401 with a wrong token, 404 for an unknown session', async () => {
    const token = 'client-test-token-7f3a';
    const worker = await startWorker({ env: { WORKER_API_TOKEN: token } });
    try {
      const client = createClient({ baseUrl: worker.url, token });
      await assert.rejects(
        collect(client.execute(jobRequest('Bad id', { websiteSessionId: '.hidden' }))),
        apiError({ status: 400, code: 'VALIDATION_ERROR', field: 'websiteSessionId' }),
      );
      await assert.rejects(
        collect(client.execute(jobRequest(''))),
        apiError({ status: 400, code: 'VALIDATION_ERROR', field: 'userRequest' }),
      );

      const intruder = createClient({ baseUrl: worker.url, token: 'not-the-token' });
      await assert.rejects(intruder.listSessions(), apiError({ status: 401, code: 'UNAUTHORIZED' }));
      await assert.rejects(collect(intruder.execute(jobRequest('Let me in'))), apiError({ status: 401, code: 'UNAUTHORIZED' }));
      assert.equal((await intruder.health()).status, 'ok', '/health needs no token');

      await assert.rejects(client.getSession('no-such-session'), apiError({ status: 404, code: 'SESSION_NOT_FOUND' }));
      await assert.rejects(
        collect(client.stream('no-such-session')),
        apiError({ status: 404, code: 'SESSION_NOT_FOUND' }),
      );
      await assert.rejects(
        collect(client.execute(jobRequest('Resume nothing', { resumeSessionId: 'no-such-session' }))),
        apiError({ status: 404, code: 'SESSION_NOT_FOUND' }),
      );
    } finally {
      await worker.dispose();
    }
  });
});
