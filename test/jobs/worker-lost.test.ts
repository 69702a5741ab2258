/**
 * A session whose worker was killed mid-job (issue #8): once its lock expired,
 * it reads as `interrupted` and its stream ends with an `error` WORKER_LOST —
 * on every worker sharing the store, the same event with the same id — and a
 * resume counts on from it. Run against the fs store shared by two workers and
 * against S3, with real workers, the real Claude agent and a scripted model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { messagesText, startFakeAnthropic, type FakeAnthropic } from '../fixtures/fake-anthropic.js';
import { s3StoreEnv, startS3Server, type S3TestServer } from '../fixtures/s3-server.js';
import { getStream, postExecute, request, type SseEvent } from '../fixtures/sse.js';
import { makeTempDir } from '../fixtures/temp.js';
import { restartWorker, startWorker, type WorkerEnv, type WorkerHandle } from '../fixtures/worker.js';
import { claudeRequest, killLeftovers, typesOf, waitFor } from './helpers.js';

/** Quick checkpoints and a short lock, so a dead worker's session settles within seconds. */
const TIMING: WorkerEnv = { CHECKPOINT_INTERVAL_MS: '200', SESSION_LEASE_TTL_MS: '2000' };

interface SharedStore {
  /** Starts a worker on the shared store, with a WORKSPACE_DIR of its own. */
  start(fake: FakeAnthropic, env: WorkerEnv): Promise<WorkerHandle>;
  dispose(): Promise<void>;
}

async function sharedFsStore(): Promise<SharedStore> {
  const sessions = await makeTempDir('acw-shared-sessions');
  return {
    start: (fake, env) => startWorker({ env: { ANTHROPIC_BASE_URL: fake.url, ...TIMING, ...env }, dirs: { sessions: sessions.path } }),
    dispose: () => sessions.remove(),
  };
}

async function s3Store(): Promise<SharedStore> {
  const s3: S3TestServer = await startS3Server();
  return {
    start: (fake, env) =>
      startWorker({
        env: {
          ...s3StoreEnv(s3, 'worker-lost'),
          ANTHROPIC_BASE_URL: fake.url,
          ...TIMING,
          ...env,
        },
      }),
    dispose: () => s3.dispose(),
  };
}

async function replay(worker: WorkerHandle, sessionId: string): Promise<SseEvent[]> {
  const res = await getStream(worker.url, sessionId);
  assert.equal(res.status, 200, res.text);
  return res.events({ timeoutMs: 20_000 });
}

async function metadataOn(worker: WorkerHandle, sessionId: string): Promise<Record<string, unknown>> {
  const res = await request(`${worker.url}/sessions/${sessionId}`);
  assert.equal(res.status, 200, res.text);
  return res.json as Record<string, unknown>;
}

const STORES: Array<[string, () => Promise<SharedStore>]> = [
  ['the fs store shared by two workers', sharedFsStore],
  ['the s3 store', s3Store],
];

for (const [label, open] of STORES) {
  describe(`a session whose worker was killed, on ${label}`, () => {
    let store: SharedStore;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.dispose();
    });

    it('reads as interrupted and its stream ends with the same stored WORKER_LOST event on every worker', async () => {
      const fake = await startFakeAnthropic(({ index }) =>
        index === 0 ? { type: 'text', text: 'never sent', delayMs: 60_000 } : { type: 'text', text: 'RESUMED-ANSWER' },
      );
      let a = await store.start(fake, { WORKER_ID: 'worker-a' });
      const b = await store.start(fake, { WORKER_ID: 'worker-b' });
      const killedWorkspace = a.dirs.workspace;
      try {
        const running = await postExecute(a.url, claudeRequest('Think forever', { websiteSessionId: 'lost' }));
        assert.equal(running.status, 200, running.text);
        void running.events({ timeoutMs: 90_000 }).catch(() => []);
        await fake.waitForMainRequest(1);
        // A checkpoint of the job (its `connected` and the agent's first message) is in the store.
        await waitFor(async () => (Number((await metadataOn(b, 'lost')).lastEventId) >= 2 ? true : undefined), 10_000);

        // B follows A's job through the store, from before A dies until the stream ends.
        const following = (await getStream(b.url, 'lost')).events({ timeoutMs: 30_000 });
        await a.kill();
        const followed = await following;
        const lost = followed.at(-1)!;
        assert.equal(lost.data.type, 'error', `the stream ends with a final event: ${typesOf(followed).join(',')}`);
        assert.equal(lost.data.code, 'WORKER_LOST');
        assert.match(String(lost.data.error), /interrupted/);
        assert.equal(followed[0]!.data.type, 'connected');
        assert.deepEqual(
          followed.map((event) => event.id),
          followed.map((_, index) => index + 1),
          'ids count from 1 without gaps, the WORKER_LOST one included',
        );

        const onB = await metadataOn(b, 'lost');
        assert.equal(onB.status, 'interrupted');
        assert.equal(onB.running, false);
        assert.equal(onB.lastEventId, lost.id);
        assert.deepEqual(onB.lastError, { code: 'WORKER_LOST', message: lost.data.error });
        const listing = (await request(`${b.url}/sessions`)).json as { sessions: Array<{ sessionId: string; status: string }> };
        assert.equal(listing.sessions.find((session) => session.sessionId === 'lost')?.status, 'interrupted');

        // The killed worker, started again, and B itself tell the same story, to the byte.
        a = await restartWorker(a);
        assert.equal((await metadataOn(a, 'lost')).status, 'interrupted');
        for (const worker of [a, b]) {
          const again = await replay(worker, 'lost');
          assert.deepEqual(
            again.map((event) => event.raw),
            followed.map((event) => event.raw),
            'every reader sees the same log, ending with the same stored event',
          );
        }

        // A resume counts on from the stored event and records no second one.
        const res = await postExecute(b.url, claudeRequest('RESUME-PROMPT go on', { resumeSessionId: 'lost' }));
        assert.equal(res.status, 200, res.text);
        const resumed = await res.events();
        assert.equal(resumed[0]!.data.type, 'connected');
        assert.equal(resumed[0]!.id, lost.id! + 1);
        assert.equal(resumed.at(-1)!.data.type, 'completed', JSON.stringify(resumed.at(-1)!.data));
        assert.ok(!typesOf(resumed).includes('error'));
        assert.ok(messagesText(fake.mainRequests().at(-1)!).includes('RESUME-PROMPT'));

        const log = await replay(a, 'lost');
        assert.deepEqual(
          log.map((event) => event.raw),
          [...followed, ...resumed].map((event) => event.raw),
        );
        assert.equal(log.filter((event) => event.data.type === 'error').length, 1, 'one WORKER_LOST, nothing else');
        assert.equal((await metadataOn(a, 'lost')).status, 'completed');
      } finally {
        await a.dispose();
        await b.dispose();
        // SIGKILL gives the worker no chance to stop its agent; a container runtime would.
        await killLeftovers(killedWorkspace);
        await fake.close();
      }
    });
  });
}
