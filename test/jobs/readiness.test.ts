/**
 * Issue #11, "nothing lost on the way out": a worker whose store is not up yet
 * waits for it, not ready, instead of exiting; an EXIT_AFTER_JOB worker whose
 * last save failed stays, not ready, until the save lands, then exits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { s3StoreEnv, startS3Server, type S3TestServer } from '../fixtures/s3-server.js';
import { postExecute, request } from '../fixtures/sse.js';
import { startWorker, type WorkerEnv } from '../fixtures/worker.js';
import { claudeRequest, typesOf, waitFor } from './helpers.js';

let s3: S3TestServer;
let fake: FakeAnthropic;

before(async () => {
  s3 = await startS3Server();
  fake = await startFakeAnthropic(() => ({ type: 'text', text: 'Done.', delayMs: 1_500 }));
});

after(async () => {
  await fake?.close();
  await s3?.dispose();
});

function s3Env(bucket: string, extra: WorkerEnv = {}): WorkerEnv {
  return {
    ...s3StoreEnv(s3, bucket),
    ANTHROPIC_BASE_URL: fake.url,
    SAVE_RETRY_ATTEMPTS: '1',
    SESSION_LEASE_TTL_MS: '2000',
    ...extra,
  };
}

describe('readiness (issue #11)', () => {
  it('starts while the store is down: not ready (503, jobs refused with NOT_READY), ready once the store answers', async () => {
    await s3.stop();
    let stopped = true;
    const worker = await startWorker({ env: s3Env('late-store') });
    try {
      const ready = await request(`${worker.url}/ready`);
      assert.equal(ready.status, 503);
      assert.match((ready.json as { reason: string }).reason, /store cannot be reached/);
      const health = await request(`${worker.url}/health`);
      assert.deepEqual([health.status, (health.json as { ready: boolean }).ready], [200, false], 'alive, not ready');
      const refused = await postExecute(worker.url, claudeRequest('too early'));
      assert.equal(refused.status, 503);
      assert.equal((refused.json as { code: string }).code, 'NOT_READY');
      assert.ok(worker.logRecords().some((record) => record.msg === 'session store unreachable; retrying'));

      await s3.start();
      stopped = false;
      await waitFor(async () => ((await request(`${worker.url}/ready`)).status === 200 ? true : undefined), 20_000);
      const job = await postExecute(worker.url, claudeRequest('now'));
      assert.equal(typesOf(await job.events({ timeoutMs: 60_000 })).at(-1), 'completed');
    } finally {
      if (stopped) await s3.start();
      await worker.dispose();
    }
  });

  it('EXIT_AFTER_JOB: a worker whose last save failed stays, not ready, until the save lands, then exits 0', async () => {
    const worker = await startWorker({ env: s3Env('exit-after-save', { EXIT_AFTER_JOB: 'true' }) });
    await waitFor(async () => ((await request(`${worker.url}/ready`)).status === 200 ? true : undefined), 20_000);
    let stopped = false;
    try {
      const res = await postExecute(worker.url, claudeRequest('save me', { websiteSessionId: 'must-be-saved' }));
      const reading = res.events({ timeoutMs: 60_000 });
      await fake.waitForMainRequest(fake.mainRequests().length + 1);
      await s3.stop();
      stopped = true;
      const events = await reading;
      assert.equal(events.at(-1)!.data.code, 'STORAGE_ERROR');

      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(worker.proc.exitCode, null, 'the worker did not exit with the session unsaved');
      const ready = await request(`${worker.url}/ready`);
      assert.equal(ready.status, 503);
      assert.match((ready.json as { reason: string }).reason, /waits to be saved/);

      await s3.start();
      stopped = false;
      assert.deepEqual(await worker.exited, { code: 0, signal: null });
      const checker = await startWorker({ env: s3Env('exit-after-save') });
      try {
        const stored = (await request(`${checker.url}/sessions/must-be-saved`)).json as Record<string, unknown>;
        assert.deepEqual([stored.hasArchive, stored.lastEventId], [true, events.at(-1)!.id]);
      } finally {
        await checker.dispose();
      }
    } finally {
      if (stopped) await s3.start();
      await worker.dispose();
    }
  });
});
