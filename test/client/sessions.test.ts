import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient, WorkerApiError } from '../../src/client/index.js';
import { startRig, waitFor } from '../jobs/helpers.js';
import { collect, jobRequest, slowModel } from './helpers.js';

describe('client: sessions', () => {
  it('abort() ends a running job with ABORTED; listSessions, getSession and deleteSession work', async () => {
    const rig = await startRig(slowModel(60_000));
    try {
      const client = createClient({ baseUrl: rig.worker.url });
      const reading = collect(client.execute(jobRequest('Think for a long time', { websiteSessionId: 'client-abort' })));
      await rig.fake.waitForMainRequest(1);
      assert.equal((await client.getSession('client-abort')).running, true);

      assert.deepEqual(await client.abort('client-abort'), { sessionId: 'client-abort', aborted: true });
      const events = await reading;
      const last = events.at(-1)!.event;
      assert.equal(last.type, 'error', JSON.stringify(last));
      assert.equal(last.type === 'error' && last.code, 'ABORTED');
      // The worker sends the final event before it stores the session's metadata; wait until the job is gone.
      await waitFor(async () => ((await client.getSession('client-abort')).running ? undefined : true));

      const list = await client.listSessions();
      assert.equal(list.count, list.sessions.length);
      const summary = list.sessions.find((session) => session.sessionId === 'client-abort');
      assert.equal(summary?.status, 'aborted', JSON.stringify(summary));
      const page = await client.listSessions({ limit: 1, offset: 0 });
      assert.equal(page.count, 1);
      assert.equal(page.total, list.count);

      const details = await client.getSession('client-abort');
      assert.equal(details.status, 'aborted');
      assert.equal(details.running, false);
      assert.equal(details.lastEventId, events.at(-1)!.id);
      assert.equal(details.lastError?.code, 'ABORTED');

      await assert.rejects(client.abort('client-abort'), (error) => error instanceof WorkerApiError && error.status === 404);
      assert.deepEqual(await client.deleteSession('client-abort'), { sessionId: 'client-abort', deleted: true });
      await assert.rejects(
        client.getSession('client-abort'),
        (error) => error instanceof WorkerApiError && error.code === 'SESSION_NOT_FOUND',
      );
      assert.equal((await client.listSessions()).sessions.some((session) => session.sessionId === 'client-abort'), false);
    } finally {
      await rig.close();
    }
  });
});
