/**
 * Local session copies under WORKSPACE_DIR/sessions kept as a bounded cache
 * (issue #8): with a tiny limit, idle copies are removed after every job and at
 * start-up, a running session's and an unsaved (pending-save) session's stay,
 * and an evicted session resumes from the store. Real worker, the real Claude
 * agent against a scripted model, and a real S3-protocol server (a pending save
 * needs the store to go down mid-job).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { messagesText, startFakeAnthropic, type FakeReply, type ScriptContext } from '../fixtures/fake-anthropic.js';
import { s3StoreEnv, startS3Server, type S3TestServer } from '../fixtures/s3-server.js';
import { postExecute, request } from '../fixtures/sse.js';
import { restartWorker, startWorker, type WorkerHandle } from '../fixtures/worker.js';
import { claudeRequest, typesOf } from './helpers.js';

/** What each prompt makes the model do; the latest user message (a prompt or a tool result) decides. */
function script({ request: recorded }: ScriptContext): FakeReply {
  const messages = (recorded.body.messages ?? []) as Array<{ role: string }>;
  const latest = JSON.stringify(messages.filter((message) => message.role === 'user').at(-1) ?? '');
  if (latest.includes('tool_result')) return { type: 'text', text: 'Done with the tool.' };
  if (latest.includes('KEEP-RUNNING')) return { type: 'text', text: 'never sent', delayMs: 60_000 };
  const write = { type: 'tool_use', name: 'Write', input: { file_path: 'notes.md', content: 'turn one\n' } } as const;
  if (latest.includes('UNSAVED')) return { ...write, delayMs: 1_500 };
  if (latest.includes('WRITE-NOTES')) return write;
  if (latest.includes('READ-NOTES')) return { type: 'tool_use', name: 'Bash', input: { command: 'cat notes.md', description: 'Read the notes' } };
  return { type: 'text', text: 'Carry on.' };
}

describe('local session copies as a bounded cache', () => {
  let s3: S3TestServer;
  before(async () => {
    s3 = await startS3Server();
  });
  after(async () => {
    await s3?.dispose();
  });

  it('with a tiny limit: idle copies go, running and unsaved ones stay, an evicted session resumes from the store', async () => {
    const fake = await startFakeAnthropic(script);
    let worker: WorkerHandle = await startWorker({
      env: {
        ...s3StoreEnv(s3, 'local-cache'),
        ANTHROPIC_BASE_URL: fake.url,
        LOCAL_CACHE_MAX_BYTES: '1',
        MAX_CONCURRENT_JOBS: '2',
        SAVE_RETRY_ATTEMPTS: '1',
        SESSION_LEASE_TTL_MS: '2000',
      },
    });
    let s3Stopped = false;
    const copies = async () => (await fs.readdir(path.join(worker.dirs.workspace, 'sessions')).catch(() => [])).sort();
    const evicted = (sessionId: string) =>
      worker.waitForLog((record) => record.msg === 'local session cache: removed an idle copy' && record.sessionId === sessionId);
    const run = async (sessionId: string, prompt: string, resume = false) => {
      const res = await postExecute(worker.url, claudeRequest(prompt, resume ? { resumeSessionId: sessionId } : { websiteSessionId: sessionId }));
      assert.equal(res.status, 200, res.text);
      return res.events();
    };
    try {
      const busy = await postExecute(worker.url, claudeRequest('KEEP-RUNNING', { websiteSessionId: 'busy' }));
      assert.equal(busy.status, 200, busy.text);
      const busyEvents = busy.events({ timeoutMs: 120_000 });
      await fake.waitForMainRequest(1);

      for (const sessionId of ['idle-1', 'idle-2']) {
        assert.equal((await run(sessionId, 'WRITE-NOTES')).at(-1)!.data.type, 'completed');
        await evicted(sessionId);
      }
      assert.deepEqual(await copies(), ['busy'], 'idle copies are gone, the running one stays');

      // The store goes down mid-job: the turn is kept here as a pending save, its only copy.
      const unsaved = await postExecute(worker.url, claudeRequest('UNSAVED notes', { websiteSessionId: 'unsaved' }));
      const unsavedEvents = unsaved.events({ timeoutMs: 90_000 });
      await fake.waitForMainRequest(fake.mainRequests().length + 1);
      await s3.stop();
      s3Stopped = true;
      assert.equal((await unsavedEvents).at(-1)!.data.code, 'STORAGE_ERROR');
      await s3.start();
      s3Stopped = false;

      assert.equal((await run('idle-3', 'WRITE-NOTES')).at(-1)!.data.type, 'completed');
      await evicted('idle-3');
      assert.deepEqual(await copies(), ['busy', 'unsaved'], 'a pending save is never evicted');
      await fs.access(path.join(worker.dirs.workspace, 'sessions', 'unsaved', '.pending-save.json'));

      // An evicted session comes back from the store: its files and its conversation.
      const resumed = await run('idle-1', 'READ-NOTES and go on', true);
      assert.equal(resumed.at(-1)!.data.type, 'completed', JSON.stringify(resumed.at(-1)!.data));
      assert.ok(
        resumed.some((event) => event.data.type === 'message' && /Restoring/.test(String(event.data.message))),
        `restored from the store: ${typesOf(resumed).join(',')}`,
      );
      const lastTurn = messagesText(fake.mainRequests().at(-1)!);
      assert.ok(lastTurn.includes('WRITE-NOTES'), 'the conversation came back');
      assert.ok(lastTurn.includes('turn one'), 'and the file the first turn wrote');
      await evicted('idle-1');

      assert.equal((await request(`${worker.url}/sessions/busy/abort`, { method: 'POST' })).status, 200);
      assert.equal((await busyEvents).at(-1)!.data.code, 'ABORTED');
      await evicted('busy');
      assert.deepEqual(await copies(), ['unsaved']);

      // At start-up: a copy left idle, and one whose removal was cut short, both go.
      await fs.mkdir(path.join(worker.dirs.workspace, 'sessions', 'leftover', 'workspace'), { recursive: true });
      await fs.writeFile(path.join(worker.dirs.workspace, 'sessions', 'leftover', 'workspace', 'file.txt'), 'x');
      await fs.mkdir(path.join(worker.dirs.workspace, 'sessions', '.evicting-cut-short-0000', 'workspace'), { recursive: true });
      worker = await restartWorker(worker);
      await evicted('leftover');
      const after = await copies();
      assert.ok(!after.includes('leftover') && !after.some((name) => name.startsWith('.evicting-')), after.join(', '));
    } finally {
      if (s3Stopped) await s3.start();
      await worker.dispose();
      await fake.close();
    }
  });
});
