import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getStream, postExecute, request } from '../fixtures/sse.js';
import { claudeRequest, killLeftovers, OAUTH_ACCESS, OAUTH_REFRESH, typesOf, waitFor } from '../jobs/helpers.js';
import { JOB_ENCRYPTION_KEY, slowModel, startCluster } from './cluster.js';

describe('queue failures', () => {
  it('ends the stream with WORKER_LOST within the lease TTL when a worker is killed; the session resumes elsewhere; the job never re-runs', async () => {
    const cluster = await startCluster(slowModel(60_000), { workers: 2 });
    try {
      const gateway = cluster.gateways[0]!;
      const res = await postExecute(gateway.url, claudeRequest('Take your time', { websiteSessionId: 'lost-one' }));
      const reading = res.events({ timeoutMs: 30_000 });
      await cluster.fake.waitForMainRequest(1);
      const victim = cluster.workers.find((worker) => worker.logRecords().some((record) => record.msg === 'job started'))!;
      const survivor = cluster.workers.find((worker) => worker !== victim)!;
      // Let a checkpoint reach the store first.
      await new Promise((resolve) => setTimeout(resolve, 800));
      const killedAt = Date.now();
      await victim.kill();
      await killLeftovers(victim.dirs.workspace);

      const events = await reading.catch((error: Error) => {
        throw new Error(`${error.message}\n${cluster.diagnostics()}`);
      });
      const lostAfterMs = Date.now() - killedAt;
      const last = events.at(-1)!.data;
      assert.deepEqual([last.type, last.code], ['error', 'WORKER_LOST']);
      assert.ok(lostAfterMs < 3_000 + 2_500, `WORKER_LOST within the lease TTL (3 s) and a check: took ${lostAfterMs} ms`);
      const stored = (await request(`${gateway.url}/sessions/lost-one`)).json as Record<string, unknown>;
      assert.equal(stored.status, 'interrupted');
      assert.equal(stored.lastEventId, events.at(-1)!.id, 'the store has every event the client saw');

      // Nothing runs the lost job again by itself.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal(cluster.fake.mainRequests().length, 1, 'the lost job was not re-run');
      assert.ok(!survivor.logRecords().some((record) => record.msg === 'job started'));

      const resumed = await postExecute(gateway.url, claudeRequest('quick: carry on', { resumeSessionId: 'lost-one' }));
      assert.equal(resumed.status, 200);
      const next = await resumed.events({ timeoutMs: 60_000 });
      assert.equal(next.at(-1)!.data.type, 'completed');
      assert.equal(next[0]!.id, events.at(-1)!.id! + 1, 'ids count on from the last one the client saw');
    } finally {
      await cluster.close();
    }
  });

  it('settles a lost job that no client follows as soon as someone asks about its session', async () => {
    const cluster = await startCluster(slowModel(60_000), { workers: 1 });
    try {
      const gateway = cluster.gateways[0]!;
      const res = await postExecute(gateway.url, claudeRequest('Nobody watches me', { websiteSessionId: 'unwatched' }));
      await cluster.fake.waitForMainRequest(1);
      res.abort();
      const worker = cluster.workers[0]!;
      await worker.kill();
      await killLeftovers(worker.dirs.workspace);
      const settled = await waitFor(async () => {
        const details = (await request(`${gateway.url}/sessions/unwatched`)).json as Record<string, unknown>;
        return details.status === 'interrupted' ? details : undefined;
      }, 15_000);
      assert.equal(settled.running, false);
      assert.equal((settled.lastError as { code: string }).code, 'WORKER_LOST');
      const replay = await (await getStream(gateway.url, 'unwatched')).events();
      assert.equal(replay.at(-1)!.data.code, 'WORKER_LOST');
    } finally {
      await cluster.close();
    }
  });

  it('keeps waiting jobs through a Redis restart; gateways and workers reconnect by themselves; 503 while Redis is down', async () => {
    const cluster = await startCluster(slowModel(2_000), { workers: 1 });
    try {
      const gateway = cluster.gateways[0]!;
      const responses = [];
      for (const index of [0, 1, 2]) {
        responses.push(await postExecute(gateway.url, claudeRequest(`restart ${index}`, { websiteSessionId: `restart-${index}` })));
      }
      const streams = responses.map((res) => res.events({ timeoutMs: 90_000 }));
      await cluster.fake.waitForMainRequest(1);

      await cluster.redis.stop('SIGKILL');
      const refused = await postExecute(gateway.url, claudeRequest('while down'));
      assert.equal(refused.status, 503);
      assert.equal((refused.json as { code: string }).code, 'QUEUE_UNAVAILABLE');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await cluster.redis.start();

      for (const events of await Promise.all(streams)) assert.equal(typesOf(events).at(-1), 'completed', JSON.stringify(typesOf(events)));
      const after = await postExecute(gateway.url, claudeRequest('quick: after the restart'));
      assert.equal(after.status, 200);
      assert.equal(typesOf(await after.events({ timeoutMs: 60_000 })).at(-1), 'completed');
    } finally {
      await cluster.close();
    }
  });

  it('never leaves a credential or token in Redis in plain text', async () => {
    const cluster = await startCluster(slowModel(60_000), { workers: 1 });
    try {
      const gateway = cluster.gateways[0]!;
      const githubToken = 'ghp_QUEUETEST0123456789abcdefghijklmnopq';
      const running = await postExecute(gateway.url, claudeRequest('hold the worker', { websiteSessionId: 'secret-running' }));
      await cluster.fake.waitForMainRequest(1);
      const waiting = await postExecute(
        gateway.url,
        claudeRequest('wait with secrets', { websiteSessionId: 'secret-waiting', database: { accessToken: githubToken } }),
      );
      assert.equal(waiting.status, 200);
      const keyspace = await cluster.redis.dumpKeyspace();
      assert.match(keyspace, /secret-waiting/, 'the scan sees the queued job');
      for (const secret of [OAUTH_ACCESS, OAUTH_REFRESH, githubToken, JOB_ENCRYPTION_KEY]) {
        assert.ok(!keyspace.includes(secret), `Redis holds ${secret.slice(0, 12)}…`);
      }
      // Once taken, not even the sealed copy stays.
      assert.match(keyspace, /sealed/, 'the waiting job carries its request sealed');
      running.abort();
      await request(`${gateway.url}/sessions/secret-running/abort`, { method: 'POST' });
      await waiting.events({ until: (event) => event.data.type === 'assistant_message' || event.data.type === 'error', timeoutMs: 30_000 });
      const taken = await cluster.redis.dumpKeyspace();
      assert.ok(!/secret-waiting[^\n]*sealed/.test(taken), 'the worker removed the sealed request when it took the job');
      for (const secret of [OAUTH_ACCESS, OAUTH_REFRESH, githubToken]) assert.ok(!taken.includes(secret));
    } finally {
      await cluster.close();
    }
  });
});
