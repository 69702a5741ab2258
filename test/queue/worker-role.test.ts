import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { postExecute, request } from '../fixtures/sse.js';
import { claudeRequest, typesOf } from '../jobs/helpers.js';
import { startCluster } from './cluster.js';

describe('the worker role', () => {
  it('serves only /health and /metrics, and with EXIT_AFTER_JOB takes exactly one job, saves it and exits 0', async () => {
    const cluster = await startCluster(() => ({ type: 'text', text: 'Done.', delayMs: 1_000 }), {
      workers: 1,
      workerEnv: { EXIT_AFTER_JOB: 'true' },
    });
    try {
      const [gateway, worker] = [cluster.gateways[0]!, cluster.workers[0]!];
      const health = (await request(`${worker.url}/health`)).json as { role: string; status: string };
      assert.deepEqual([health.status, health.role], ['ok', 'worker']);
      assert.equal((await request(`${worker.url}/metrics`)).status, 200);
      assert.equal((await postExecute(worker.url, claudeRequest('not here'))).status, 404);
      assert.equal((await request(`${worker.url}/sessions`)).status, 404);

      const first = await postExecute(gateway.url, claudeRequest('first', { websiteSessionId: 'exit-first' }));
      const second = await postExecute(gateway.url, claudeRequest('second', { websiteSessionId: 'exit-second' }));
      assert.equal(typesOf(await first.events({ timeoutMs: 60_000 })).at(-1), 'completed');
      assert.deepEqual(await worker.exited, { code: 0, signal: null });
      assert.equal(worker.logRecords().filter((record) => record.msg === 'job started').length, 1, 'exactly one job');
      assert.equal(((await request(`${gateway.url}/sessions/exit-first`)).json as { status: string }).status, 'completed');
      const waiting = (await request(`${gateway.url}/sessions/exit-second`)).json as { status: string };
      assert.equal(waiting.status, 'queued', 'the second job waits for the next worker');

      await cluster.addWorker({ EXIT_AFTER_JOB: 'false' });
      assert.equal(typesOf(await second.events({ timeoutMs: 60_000 })).at(-1), 'completed');
    } finally {
      await cluster.close();
    }
  });
});
