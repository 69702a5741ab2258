import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { messagesText, startFakeAnthropic } from '../fixtures/fake-anthropic.js';
import { postExecute, request } from '../fixtures/sse.js';
import { restartWorker, startWorker } from '../fixtures/worker.js';
import { claudeRequest, findLeakedSecrets, sessionWorkspace, typesOf } from './helpers.js';

/** First turn writes notes.md and answers with a marker; later turns just answer. */
const conversation = () =>
  startFakeAnthropic(({ index }) =>
    index === 0
      ? { type: 'tool_use', name: 'Write', input: { file_path: 'notes.md', content: 'turn one\n' } }
      : { type: 'text', text: index === 1 ? 'FIRST-TURN-ANSWER' : 'SECOND-TURN-ANSWER' },
  );

describe('resuming a session', () => {
  it('a resume sent the moment `completed` arrives is admitted, not refused as busy', async () => {
    const fake = await startFakeAnthropic(() => ({ type: 'text', text: 'Done.' }));
    const worker = await startWorker({ env: { ANTHROPIC_BASE_URL: fake.url } });
    try {
      let previous = await postExecute(worker.url, claudeRequest('turn 0', { websiteSessionId: 'back-to-back' }));
      for (let turn = 1; turn <= 3; turn++) {
        // Read only up to the final event, then resume at once: the job may still be saving.
        const events = await previous.events({ until: (event) => event.data.type === 'completed' });
        assert.equal(events.at(-1)!.data.type, 'completed');
        previous = await postExecute(worker.url, claudeRequest(`turn ${turn}`, { resumeSessionId: 'back-to-back' }));
        assert.equal(previous.status, 200, `turn ${turn}: ${previous.text}`);
      }
      assert.equal((await previous.events()).at(-1)!.data.type, 'completed');
      const metadata = (await request(`${worker.url}/sessions/back-to-back`)).json as { turns: number };
      assert.equal(metadata.turns, 4);
    } finally {
      await worker.dispose();
      await fake.close();
    }
  });

  it('continues the same agent conversation and keeps counting event ids', async () => {
    const fake = await conversation();
    const worker = await startWorker({ env: { ANTHROPIC_BASE_URL: fake.url } });
    try {
      const first = await (await postExecute(worker.url, claudeRequest('FIRST-PROMPT write notes', { websiteSessionId: 'chat-1' }))).events();
      assert.equal(first.at(-1)!.data.type, 'completed');

      const res = await postExecute(worker.url, claudeRequest('SECOND-PROMPT continue', { resumeSessionId: 'chat-1' }));
      assert.equal(res.headers.get('x-session-id'), 'chat-1');
      const second = await res.events();
      assert.equal(second[0]!.data.type, 'connected');
      assert.equal(second[0]!.data.resuming, true);
      assert.equal(second[0]!.data.resumedFrom, 'chat-1');
      assert.equal(second[0]!.id, first.at(-1)!.id! + 1, 'ids keep counting across resumes');
      assert.equal(second.at(-1)!.data.type, 'completed');

      const lastRequest = fake.mainRequests().at(-1)!;
      const text = messagesText(lastRequest);
      assert.ok(text.includes('FIRST-PROMPT'), 'the model receives the first turn');
      assert.ok(text.includes('FIRST-TURN-ANSWER'), 'and the first turn’s answer');
      assert.ok(text.includes('SECOND-PROMPT'));

      const metadata = (await request(`${worker.url}/sessions/chat-1`)).json as Record<string, unknown>;
      assert.equal(metadata.turns, 2);
      assert.equal(metadata.lastEventId, second.at(-1)!.id);
    } finally {
      await worker.dispose();
      await fake.close();
    }
  });

  it('survives a worker restart with the workspace folder deleted in between', async () => {
    const fake = await conversation();
    let worker = await startWorker({ env: { ANTHROPIC_BASE_URL: fake.url } });
    try {
      const first = await (await postExecute(worker.url, claudeRequest('FIRST-PROMPT write notes', { websiteSessionId: 'chat-2' }))).events();
      assert.equal(first.at(-1)!.data.type, 'completed');

      worker = await restartWorker(worker);
      await fs.rm(worker.dirs.workspace, { recursive: true, force: true });

      const res = await postExecute(worker.url, claudeRequest('SECOND-PROMPT continue', { websiteSessionId: 'chat-2' }));
      const second = await res.events();
      assert.equal(second.at(-1)!.data.type, 'completed', JSON.stringify(second.at(-1)!.data));
      assert.ok(typesOf(second).includes('message'), 'the restore is reported');
      assert.equal(second[0]!.data.resuming, true);
      assert.equal(second[0]!.id, first.at(-1)!.id! + 1);

      const notes = await fs.readFile(path.join(sessionWorkspace(worker, 'chat-2'), 'notes.md'), 'utf8');
      assert.equal(notes, 'turn one\n', 'the workspace came back from the store');
      const text = messagesText(fake.mainRequests().at(-1)!);
      assert.ok(text.includes('FIRST-PROMPT') && text.includes('FIRST-TURN-ANSWER'), 'the conversation came back too');
      assert.deepEqual(await findLeakedSecrets(worker), []);
    } finally {
      await worker.dispose();
      await fake.close();
    }
  });

  it('answers 404 for an unknown resumeSessionId and stays idle', async () => {
    const worker = await startWorker();
    try {
      const res = await postExecute(worker.url, claudeRequest('hello', { resumeSessionId: 'no-such-session' }));
      assert.equal(res.status, 404);
      assert.equal((res.json as { code: string }).code, 'SESSION_NOT_FOUND');
      assert.equal((await request(`${worker.url}/status`)).status, 200);
    } finally {
      await worker.dispose();
    }
  });
});
