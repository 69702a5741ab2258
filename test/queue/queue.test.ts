import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ScriptContext } from '../fixtures/fake-anthropic.js';
import { getStream, postExecute, request, type WorkerResponse } from '../fixtures/sse.js';
import { claudeRequest, typesOf } from '../jobs/helpers.js';
import { slowModel, startCluster } from './cluster.js';

function assertConsecutiveIds(events: Array<{ id?: number }>): void {
  const ids = events.map((event) => Number(event.id));
  assert.deepEqual(ids, ids.map((_, index) => ids[0]! + index), `ids count on without gaps: ${ids.join(',')}`);
}

describe('gateway and queue workers', () => {
  it('runs 6 simultaneous jobs on 2 workers of 1 slot: all complete, the later ones after `queued` events', async () => {
    const cluster = await startCluster(slowModel(1_000));
    try {
      const gateway = cluster.gateways[0]!;
      const responses = await Promise.all(
        Array.from({ length: 6 }, (_, index) => postExecute(gateway.url, claudeRequest(`job ${index}`, { websiteSessionId: `six-${index}` }))),
      );
      for (const res of responses) assert.equal(res.status, 200);
      const streams = await Promise.all(responses.map((res) => res.events({ timeoutMs: 60_000 })));
      let waited = 0;
      for (const events of streams) {
        const types = typesOf(events);
        assert.equal(types[0], 'connected');
        assert.equal(types.at(-1), 'completed', JSON.stringify(types));
        assertConsecutiveIds(events);
        const positions = events.filter((event) => event.data.type === 'queued').map((event) => event.data.position as number);
        assert.deepEqual(positions, [...positions].sort((a, b) => b - a), 'a job only moves forward');
        if (positions.length > 0) waited += 1;
        // `queued` comes before anything the worker says.
        const lastQueued = types.lastIndexOf('queued');
        assert.ok(lastQueued === -1 || !types.slice(0, lastQueued).some((type) => type !== 'connected' && type !== 'queued'));
      }
      assert.ok(waited >= 4, `the 4 jobs that had to wait saw queued events (saw ${waited})`);
      for (const worker of cluster.workers) {
        assert.ok(worker.logRecords().some((record) => record.msg === 'job started'), 'both workers ran jobs');
      }
      const stored = (await request(`${gateway.url}/sessions/six-5`)).json as Record<string, unknown>;
      assert.equal(stored.status, 'completed');
      const replay = await getStream(gateway.url, 'six-5');
      assert.deepEqual(typesOf(await replay.events()), typesOf(streams[5]!), 'the stored log is what the client saw');
    } finally {
      await cluster.close();
    }
  });

  it('gives every waiting job its `queued` event at once, with its place, however many clients enqueue together', async () => {
    const cluster = await startCluster(slowModel(0), { workers: 0 });
    try {
      const gateway = cluster.gateways[0]!;
      const positions: number[] = [];
      const enqueue = async (index: number) => {
        const res = await postExecute(gateway.url, claudeRequest(`wait ${index}`, { websiteSessionId: `crowd-${index}` }));
        assert.equal(res.status, 200);
        const events = await res.events({ until: (event) => event.data.type === 'queued', timeoutMs: 3_000 });
        positions.push(events.at(-1)!.data.position as number);
      };
      // Six clients at a time: a stream that subscribed after its `queued` event was appended used to miss it.
      for (let batch = 0; batch < 8; batch++) await Promise.all(Array.from({ length: 6 }, (_, index) => enqueue(batch * 6 + index)));
      assert.equal(positions.length, 48);
      assert.deepEqual([...positions].sort((a, b) => a - b), Array.from({ length: 48 }, (_, index) => index + 1), 'each job its own place');
    } finally {
      await cluster.close();
    }
  });

  it('keeps one job per session across the cluster, and answers QUEUE_FULL with Retry-After beyond QUEUE_MAX', async () => {
    const cluster = await startCluster(slowModel(60_000), { workers: 1, env: { QUEUE_MAX: '2' } });
    try {
      const gateway = cluster.gateways[0]!;
      const running = await postExecute(gateway.url, claudeRequest('hold the worker', { websiteSessionId: 'holder' }));
      assert.equal(running.status, 200);
      await cluster.fake.waitForMainRequest(1);
      const second = await cluster.addGateway();
      const busy = await postExecute(second.url, claudeRequest('same session', { websiteSessionId: 'holder' }));
      assert.equal(busy.status, 409);
      assert.equal((busy.json as { code: string }).code, 'SESSION_BUSY');

      const waiting: WorkerResponse[] = [];
      for (const index of [1, 2]) waiting.push(await postExecute(gateway.url, claudeRequest(`wait ${index}`, { websiteSessionId: `wait-${index}` })));
      for (const res of waiting) assert.equal(res.status, 200);
      const full = await postExecute(gateway.url, claudeRequest('one too many'));
      assert.equal(full.status, 429);
      assert.equal((full.json as { code: string }).code, 'QUEUE_FULL');
      assert.ok(Number(full.headers.get('retry-after')) > 0);
      const status = (await request(`${gateway.url}/status`)).json as { queue: { waiting: number; workers: number; max: number } };
      assert.equal(status.queue.waiting, 2);
      assert.equal(status.queue.max, 2);
      assert.ok(status.queue.workers >= 1, 'the worker is connected to the queue');
      const details = (await request(`${gateway.url}/sessions/wait-1`)).json as Record<string, unknown>;
      assert.deepEqual([details.status, details.running], ['queued', true]);
      for (const res of [running, ...waiting]) res.abort();
    } finally {
      await cluster.close();
    }
  });

  it('aborts a queued job (taken off the queue) and a running one (on its worker) within a second', async () => {
    const cluster = await startCluster(slowModel(60_000), { workers: 1 });
    try {
      const gateway = cluster.gateways[0]!;
      const running = await postExecute(gateway.url, claudeRequest('run long', { websiteSessionId: 'abort-running' }));
      const runningEvents = running.events({ timeoutMs: 30_000 });
      await cluster.fake.waitForMainRequest(1);
      const queued = await postExecute(gateway.url, claudeRequest('wait long', { websiteSessionId: 'abort-queued' }));
      const queuedEvents = queued.events({ timeoutMs: 30_000 });

      let started = Date.now();
      assert.equal((await request(`${gateway.url}/sessions/abort-queued/abort`, { method: 'POST' })).status, 200);
      const queuedTypes = typesOf(await queuedEvents);
      assert.ok(Date.now() - started < 1_000, 'the queued job ended within a second');
      assert.deepEqual([queuedTypes[0], queuedTypes.at(-1)], ['connected', 'error']);
      assert.ok(!queuedTypes.includes('assistant_message'), 'it never ran');
      const queuedSession = (await request(`${gateway.url}/sessions/abort-queued`)).json as Record<string, unknown>;
      assert.deepEqual([queuedSession.status, queuedSession.running], ['aborted', false]);

      started = Date.now();
      assert.equal((await request(`${gateway.url}/abort`, { method: 'POST', body: { sessionId: 'abort-running' } })).status, 200);
      const events = await runningEvents;
      const last = events.at(-1)!.data;
      assert.deepEqual([last.type, last.code], ['error', 'ABORTED']);
      assert.ok(Date.now() - started < 5_000, 'the running job ended soon after the abort');
      const stored = (await request(`${gateway.url}/sessions/abort-running`)).json as Record<string, unknown>;
      assert.deepEqual([stored.status, stored.hasArchive], ['aborted', true]);
      assert.equal((await request(`${gateway.url}/sessions/abort-running/abort`, { method: 'POST' })).status, 404);
      assert.ok(cluster.fake.mainRequests().length === 1, 'the aborted queued job never reached the model');
    } finally {
      await cluster.close();
    }
  });

  it('re-attaches on a second gateway mid-job with Last-Event-ID: no gap, no duplicate', async () => {
    const script = (ctx: ScriptContext) =>
      ctx.index === 0
        ? { type: 'tool_use' as const, name: 'Bash', input: { command: 'sleep 1; echo one' }, text: 'Working on it.' }
        : { type: 'text' as const, text: 'All done.', delayMs: 500 };
    const cluster = await startCluster(script, { gateways: 2, workers: 1 });
    try {
      const [first, second] = cluster.gateways as [typeof cluster.gateways[0], typeof cluster.gateways[0]];
      const res = await postExecute(first!.url, claudeRequest('Run a command', { websiteSessionId: 'reattach' }));
      const head = await res.events({ until: (event) => event.data.type === 'assistant_message' });
      const lastSeen = head.at(-1)!.id!;
      const rest = await getStream(second!.url, 'reattach', lastSeen);
      const tail = await rest.events({ timeoutMs: 60_000 });
      const all = [...head, ...tail];
      assertConsecutiveIds(all);
      assert.equal(all.at(-1)!.data.type, 'completed');
      const replay = await (await getStream(first!.url, 'reattach')).events();
      assert.deepEqual(replay.map((event) => event.id), all.map((event) => event.id), 'any gateway replays the same log');
    } finally {
      await cluster.close();
    }
  });
});
