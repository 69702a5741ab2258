import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { getStream, postExecute, request, type WorkerResponse } from '../fixtures/sse.js';
import { startWorker } from '../fixtures/worker.js';
import { claudeRequest, findLeakedSecrets, processesUnder, startRig, typesOf, waitFor } from './helpers.js';

/** A model that thinks for `ms` before answering the first conversation turn. */
const slowModel = (ms: number) => () => ({ type: 'text' as const, text: 'Finally done.', delayMs: ms });

describe('job lifecycle', () => {
  it('aborts a running job: the agent process tree dies, ABORTED ends the stream, the session is saved', async () => {
    const rig = await startRig(slowModel(60_000));
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('Think for a long time', { websiteSessionId: 'abort-me' }));
      const reading = res.events({ timeoutMs: 30_000 });
      await rig.fake.waitForMainRequest(1);
      const agentDir = path.join(rig.worker.dirs.workspace, 'sessions', 'abort-me');
      assert.ok((await processesUnder(agentDir)).length > 0, 'the agent runs in the session folder');

      const abort = await request(`${rig.worker.url}/sessions/abort-me/abort`, { method: 'POST' });
      assert.equal(abort.status, 200);
      const events = await reading;
      const last = events.at(-1)!.data;
      assert.equal(last.type, 'error');
      assert.equal(last.code, 'ABORTED');
      await waitFor(async () => ((await processesUnder(agentDir)).length === 0 ? true : undefined), 10_000);

      const metadata = (await request(`${rig.worker.url}/sessions/abort-me`)).json as Record<string, unknown>;
      assert.equal(metadata.status, 'aborted');
      assert.equal(metadata.hasArchive, true);
      const again = await request(`${rig.worker.url}/sessions/abort-me/abort`, { method: 'POST' });
      assert.equal(again.status, 404, 'nothing left to abort');
    } finally {
      await rig.close();
    }
  });

  it('admits exactly MAX_CONCURRENT_JOBS of a burst and answers 429 with Retry-After to the rest', async () => {
    const rig = await startRig(slowModel(1_500), { MAX_CONCURRENT_JOBS: '2' });
    try {
      const burst = await Promise.all(
        Array.from({ length: 6 }, (_, index) => postExecute(rig.worker.url, claudeRequest(`burst ${index}`))),
      );
      const streams = burst.filter((res) => res.status === 200);
      const refused = burst.filter((res) => res.status === 429);
      assert.equal(streams.length, 2);
      assert.equal(refused.length, 4);
      for (const res of refused) {
        assert.equal((res.json as { code: string }).code, 'WORKER_BUSY');
        assert.ok(Number(res.headers.get('retry-after')) > 0);
        assert.ok(((res.json as { retryAfter: number }).retryAfter ?? 0) > 0);
      }
      const status = await request(`${rig.worker.url}/status`);
      assert.equal(status.status, 429);
      assert.equal((status.json as { status: string }).status, 'busy');
      for (const res of streams) assert.equal((await res.events()).at(-1)!.data.type, 'completed');
      assert.equal((await request(`${rig.worker.url}/status`)).status, 200);
    } finally {
      await rig.close();
    }
  });

  it('keeps running when the client disconnects; the client re-attaches with Last-Event-ID', async () => {
    const rig = await startRig(slowModel(1_500));
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('Keep going without me', { websiteSessionId: 'detached' }));
      const first = await res.events({ until: (event) => event.data.type === 'connected' });
      assert.equal(first.length, 1);

      const busy = await postExecute(rig.worker.url, claudeRequest('Same session', { websiteSessionId: 'detached' }));
      assert.equal(busy.status, 409, 'one job per session');
      assert.equal((busy.json as { code: string }).code, 'SESSION_BUSY');
      const deleting = await request(`${rig.worker.url}/sessions/detached`, { method: 'DELETE' });
      assert.equal(deleting.status, 409, 'a running session cannot be deleted');

      const rest = await (await getStream(rig.worker.url, 'detached', first[0]!.id)).events();
      assert.equal(rest[0]!.id, 2, 'the stream resumes right after the last event seen');
      assert.equal(rest.at(-1)!.data.type, 'completed');

      const deleted = await request(`${rig.worker.url}/sessions/detached`, { method: 'DELETE' });
      assert.deepEqual(deleted.json, { sessionId: 'detached', deleted: true });
      assert.equal((await request(`${rig.worker.url}/sessions/detached`)).status, 404);
      await assert.rejects(fs.stat(path.join(rig.worker.dirs.sessions, 'detached')));
    } finally {
      await rig.close();
    }
  });

  it('sends keep-alive comments while the agent is quiet', async () => {
    const rig = await startRig(slowModel(1_200), { KEEPALIVE_MS: '200' });
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('Be quiet for a while'));
      const comments: string[] = [];
      const events = await res.events({ comments });
      assert.equal(events.at(-1)!.data.type, 'completed');
      assert.ok(comments.some((comment) => comment.trim() === 'keep-alive'), `got comments ${JSON.stringify(comments)}`);
    } finally {
      await rig.close();
    }
  });

  it('EXIT_AFTER_JOB: exits with code 0 once the session is saved', async () => {
    const rig = await startRig(slowModel(0), { EXIT_AFTER_JOB: 'true' });
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('One job only', { websiteSessionId: 'ephemeral' }));
      assert.equal((await res.events()).at(-1)!.data.type, 'completed');
      const exit = await rig.worker.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
      const metadata = JSON.parse(await fs.readFile(path.join(rig.worker.dirs.sessions, 'ephemeral', 'metadata.json'), 'utf8'));
      assert.equal(metadata.status, 'completed');
    } finally {
      await rig.close();
    }
  });

  it('SIGTERM lets a running job finish within the grace period, refuses new jobs, then exits 0', async () => {
    const rig = await startRig(slowModel(1_500), { SHUTDOWN_GRACE_MS: '20000' });
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('Finish before shutdown'));
      const reading = res.events();
      await rig.fake.waitForMainRequest(1);
      rig.worker.proc.kill('SIGTERM');
      await rig.worker.waitForLog((record) => record.msg === 'worker stopping');
      const refused = await postExecute(rig.worker.url, claudeRequest('Too late')).catch(() => undefined);
      if (refused) assert.ok(refused.status === 503, `new jobs are refused while stopping (got ${refused.status})`);
      assert.equal((await reading).at(-1)!.data.type, 'completed');
      assert.deepEqual(await rig.worker.exited, { code: 0, signal: null });
    } finally {
      await rig.close();
    }
  });

  it('SIGTERM aborts a job that outlives the grace period and saves it before exiting', async () => {
    const rig = await startRig(slowModel(60_000), { SHUTDOWN_GRACE_MS: '300' });
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('Never finishes', { websiteSessionId: 'cut-short' }));
      const reading = res.events();
      await rig.fake.waitForMainRequest(1);
      rig.worker.proc.kill('SIGTERM');
      const events: Awaited<ReturnType<WorkerResponse['events']>> = await reading;
      assert.equal(events.at(-1)!.data.code, 'ABORTED');
      assert.deepEqual(await rig.worker.exited, { code: 0, signal: null });
      const metadata = JSON.parse(await fs.readFile(path.join(rig.worker.dirs.sessions, 'cut-short', 'metadata.json'), 'utf8'));
      assert.equal(metadata.status, 'aborted');
      assert.deepEqual(typesOf(events).slice(0, 1), ['connected']);
      assert.deepEqual(await findLeakedSecrets(rig.worker), []);
    } finally {
      await rig.close();
    }
  });

  it('after a SIGKILL, the next start-up stops the orphaned agent and removes its private home', async () => {
    const rig = await startRig(slowModel(60_000));
    let restarted: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('Orphan me', { websiteSessionId: 'orphan' }));
      void res.events().catch(() => {});
      await rig.fake.waitForMainRequest(1);
      const sessionDir = path.join(rig.worker.dirs.workspace, 'sessions', 'orphan');
      await rig.worker.kill();
      assert.ok((await processesUnder(sessionDir)).length > 0, 'the agent outlived its worker');
      const homes = path.join(rig.worker.dirs.workspace, 'homes');
      assert.equal((await fs.readdir(homes)).length, 1, 'its home (with credentials) is still on disk');

      restarted = await startWorker({ dirs: rig.worker.dirs, env: { ANTHROPIC_BASE_URL: rig.fake.url } });
      assert.deepEqual(await processesUnder(sessionDir), []);
      assert.deepEqual(await fs.readdir(homes), []);
    } finally {
      await restarted?.dispose();
      await rig.close();
    }
  });

  it('refuses to start with invalid configuration', async () => {
    await assert.rejects(startWorker({ env: { MAX_CONCURRENT_JOBS: '0' }, timeoutMs: 5_000 }));
  });
});
