/**
 * Sessions kept in an S3-compatible store and shared by several workers: each
 * worker has its own WORKSPACE_DIR, all of them the same bucket. Real workers
 * over HTTP, the real Claude agent against a scripted fake model, and a real
 * S3-protocol server on loopback (one for the file, a fresh bucket per test).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { messagesText, startFakeAnthropic, type FakeAnthropic, type FakeReply, type FakeScript, type ScriptContext } from '../fixtures/fake-anthropic.js';
import { createS3TestClient, s3StoreEnv, startS3Server, type S3TestServer } from '../fixtures/s3-server.js';
import { getStream, postExecute, request, type SseEvent } from '../fixtures/sse.js';
import { restartWorker, startWorker, type WorkerEnv, type WorkerHandle } from '../fixtures/worker.js';
import {
  claudeRequest,
  findLeakedSecrets,
  killLeftovers,
  processesUnder,
  readTree,
  SECRETS,
  sessionWorkspace,
  typesOf,
  waitFor,
} from './helpers.js';

let s3: S3TestServer;
let client: S3Client;
let bucketCount = 0;

before(async () => {
  s3 = await startS3Server();
  client = createS3TestClient(s3);
});

after(async () => {
  client?.destroy();
  await s3?.dispose();
});

/** A bucket name of its own for each test; the first worker creates it at start-up. */
function newBucket(label: string): string {
  bucketCount += 1;
  return `t${bucketCount}-${label}`.toLowerCase();
}

function s3Env(bucket: string, fake: FakeAnthropic, extra: WorkerEnv = {}): WorkerEnv {
  return { ...s3StoreEnv(s3, bucket), ANTHROPIC_BASE_URL: fake.url, ...extra };
}

async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function getObject(bucket: string, key: string): Promise<Buffer> {
  const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await result.Body!.transformToByteArray());
}

/** Secrets found anywhere in the S3 server's data (brotli archives decompressed; tar holds file contents verbatim). */
async function secretsInStore(secrets: string[] = SECRETS): Promise<string[]> {
  const leaks: string[] = [];
  for (const [file, text] of await readTree(s3.dataDir)) {
    let content = text;
    if (file.endsWith('.tar.br._S3rver_object')) {
      try {
        content = zlib.brotliDecompressSync(Buffer.from(text, 'latin1')).toString('latin1');
      } catch {
        // A deliberately corrupted archive: scan its raw bytes.
      }
    }
    for (const secret of secrets) if (content.includes(secret)) leaks.push(`${file} contains ${secret}`);
  }
  return leaks;
}

/** Worker logs and the whole S3 store are free of every credential (the S3 secret key included). */
async function assertNoLeaks(workers: WorkerHandle[]): Promise<void> {
  for (const worker of workers) assert.deepEqual(await findLeakedSecrets(worker, [...SECRETS, s3.secretKey]), []);
  assert.deepEqual(await secretsInStore(), []);
}

function assertIdsStrictlyIncreasing(events: SseEvent[]): void {
  const ids = events.map((event) => event.id);
  for (const id of ids) assert.equal(typeof id, 'number', `every event has a numeric id: ${JSON.stringify(ids)}`);
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i]! > ids[i - 1]!, `ids strictly increase: ${JSON.stringify(ids)}`);
  }
}

async function storedLog(worker: WorkerHandle, sessionId: string): Promise<SseEvent[]> {
  const res = await getStream(worker.url, sessionId);
  assert.equal(res.status, 200, res.text);
  return res.events({ timeoutMs: 20_000 });
}

/** Turn 1 writes notes.md then answers FIRST-TURN-ANSWER; later turns answer SECOND-TURN-ANSWER. */
const writeThenAnswer =
  (firstDelayMs = 0): FakeScript =>
  ({ index }) =>
    index === 0
      ? { type: 'tool_use', name: 'Write', input: { file_path: 'notes.md', content: 'turn one\n' }, delayMs: firstDelayMs }
      : { type: 'text', text: index === 1 ? 'FIRST-TURN-ANSWER' : 'SECOND-TURN-ANSWER' };

describe('sessions in S3 across workers', () => {
  it('a session run on worker A resumes on worker B with its files, conversation and event ids', async () => {
    const fake = await startFakeAnthropic(writeThenAnswer());
    const bucket = newBucket('handoff');
    const a = await startWorker({ env: s3Env(bucket, fake, { WORKER_ID: 'worker-a' }) });
    const b = await startWorker({ env: s3Env(bucket, fake, { WORKER_ID: 'worker-b' }) });
    try {
      assert.notEqual(a.dirs.workspace, b.dirs.workspace);
      const first = await (
        await postExecute(a.url, claudeRequest('FIRST-PROMPT write notes', { websiteSessionId: 'handoff' }))
      ).events();
      assert.equal(first.at(-1)!.data.type, 'completed', JSON.stringify(first.at(-1)!.data));
      assert.equal(await fs.readFile(path.join(sessionWorkspace(a, 'handoff'), 'notes.md'), 'utf8'), 'turn one\n');

      const res = await postExecute(b.url, claudeRequest('SECOND-PROMPT continue', { resumeSessionId: 'handoff' }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-session-id'), 'handoff');
      const second = await res.events();
      assert.equal(second.at(-1)!.data.type, 'completed', JSON.stringify(second.at(-1)!.data));
      assert.equal(second[0]!.data.type, 'connected');
      assert.equal(second[0]!.data.resuming, true);
      assert.equal(second[0]!.data.resumedFrom, 'handoff');
      assert.equal(second[0]!.id, first.at(-1)!.id! + 1, 'ids keep counting across workers');
      assertIdsStrictlyIncreasing(second);

      const notes = await fs.readFile(path.join(sessionWorkspace(b, 'handoff'), 'notes.md'), 'utf8');
      assert.equal(notes, 'turn one\n', "A's file is in B's workspace");
      const text = messagesText(fake.mainRequests().at(-1)!);
      assert.ok(text.includes('FIRST-PROMPT'), 'B’s agent receives the first turn');
      assert.ok(text.includes('FIRST-TURN-ANSWER'), 'and its answer');
      assert.ok(text.includes('SECOND-PROMPT'));

      const listing = (await request(`${b.url}/sessions`)).json as { sessions: Array<Record<string, unknown>> };
      const listed = listing.sessions.find((session) => session.sessionId === 'handoff');
      assert.ok(listed, `B lists the session: ${JSON.stringify(listing)}`);
      assert.equal(listed.storage, 's3');
      assert.equal(listed.status, 'completed');
      const metadata = (await request(`${a.url}/sessions/handoff`)).json as Record<string, unknown>;
      assert.equal(metadata.turns, 2, 'A sees the turn B ran');
      assert.equal(metadata.lastEventId, second.at(-1)!.id);

      const log = await storedLog(a, 'handoff');
      assert.deepEqual(
        log.map((event) => event.id),
        [...first, ...second].map((event) => event.id),
        'the stored log is both turns, in order',
      );
      await assertNoLeaks([a, b]);
    } finally {
      await a.dispose();
      await b.dispose();
      await fake.close();
    }
  });

  it('two workers racing for one session: exactly one runs it, the other answers 409 until it is done', async () => {
    const fake = await startFakeAnthropic(() => ({ type: 'text', text: 'Slow answer.', delayMs: 2_000 }));
    const bucket = newBucket('race');
    const a = await startWorker({ env: s3Env(bucket, fake, { WORKER_ID: 'worker-a' }) });
    const b = await startWorker({ env: s3Env(bucket, fake, { WORKER_ID: 'worker-b' }) });
    try {
      const [ra, rb] = await Promise.all([
        postExecute(a.url, claudeRequest('race A', { websiteSessionId: 'contested' })),
        postExecute(b.url, claudeRequest('race B', { websiteSessionId: 'contested' })),
      ]);
      assert.deepEqual([ra.status, rb.status].sort(), [200, 409], `statuses ${ra.status} ${ra.text} / ${rb.status} ${rb.text}`);
      const [winner, loser] = ra.status === 200 ? [a, b] : [b, a];
      const [winning, losing] = ra.status === 200 ? [ra, rb] : [rb, ra];
      assert.equal((losing.json as { code: string }).code, 'SESSION_BUSY');
      assert.equal((await request(`${loser.url}/status`)).status, 200, 'the loser keeps its slot free');

      const won = await winning.events();
      assert.equal(won.at(-1)!.data.type, 'completed', JSON.stringify(won.at(-1)!.data));
      assert.equal(fake.mainRequests().length, 1, 'only one agent ran');

      const again = await postExecute(loser.url, claudeRequest('my turn now', { websiteSessionId: 'contested' }));
      assert.equal(again.status, 200, again.text);
      const next = await again.events();
      assert.equal(next.at(-1)!.data.type, 'completed', JSON.stringify(next.at(-1)!.data));
      assert.equal(next[0]!.data.resuming, true);
      assert.equal(next[0]!.id, won.at(-1)!.id! + 1);

      const log = await storedLog(winner, 'contested');
      assertIdsStrictlyIncreasing(log);
      assert.deepEqual(typesOf(log).filter((type) => type === 'connected' || type === 'completed'), [
        'connected',
        'completed',
        'connected',
        'completed',
      ]);
      assert.ok(!typesOf(log).includes('error'), 'no interrupted job in between');
    } finally {
      await a.dispose();
      await b.dispose();
      await fake.close();
    }
  });

  it('SIGKILL of worker A mid-job: B follows its checkpoints, gets 409 while the lease lives, then resumes', async (t) => {
    const fake = await startFakeAnthropic(({ index }) =>
      index === 0 ? { type: 'text', text: 'never sent', delayMs: 60_000 } : { type: 'text', text: 'RESUMED-ANSWER' },
    );
    const bucket = newBucket('sigkill');
    const timing = { CHECKPOINT_INTERVAL_MS: '200', SESSION_LEASE_TTL_MS: '2000' };
    const a = await startWorker({ env: s3Env(bucket, fake, { WORKER_ID: 'worker-a', ...timing }) });
    const b = await startWorker({ env: s3Env(bucket, fake, { WORKER_ID: 'worker-b', ...timing }) });
    try {
      const running = await postExecute(a.url, claudeRequest('Think forever', { websiteSessionId: 'crashy' }));
      assert.equal(running.status, 200, running.text);
      const onA = running.events({ timeoutMs: 90_000 }).catch(() => []);
      await fake.waitForMainRequest(1);

      const seenOnB = await waitFor(async () => {
        const res = await request(`${b.url}/sessions/crashy`);
        return res.status === 200 && (res.json as { status?: string }).status === 'running' ? res.json : undefined;
      }, 10_000);
      assert.equal((seenOnB as { running?: boolean }).running, false, 'not running on B itself');
      const followed = await (await getStream(b.url, 'crashy')).events({
        until: (event) => event.data.type === 'assistant_message',
        timeoutMs: 10_000,
      });
      assert.equal(followed[0]!.data.type, 'connected', "B streams A's checkpointed events");
      assert.equal(followed.at(-1)!.data.type, 'assistant_message');

      await a.kill();
      await onA;
      // SIGKILL gives the worker no chance to stop its agent or remove the job's private home (a
      // container runtime would take both down with it): reported here, not asserted; the agent is
      // killed by pid in the cleanup.
      const orphans = await processesUnder(a.dirs.workspace);
      const homeFiles = await readTree(path.join(a.dirs.workspace, 'homes'));
      const homeSecrets = [...homeFiles.values()].filter((text) => SECRETS.some((secret) => text.includes(secret)));
      if (orphans.length > 0 || homeFiles.size > 0) {
        t.diagnostic(
          `after SIGKILL of A: ${orphans.length} agent process(es) still running, ${homeFiles.size} file(s) in private homes, ${homeSecrets.length} holding credentials`,
        );
      }
      const busy = await postExecute(b.url, claudeRequest('take over', { resumeSessionId: 'crashy' }));
      assert.equal(busy.status, 409, `A's lease is still live: ${busy.status} ${busy.text}`);
      assert.equal((busy.json as { code: string }).code, 'SESSION_BUSY');

      const killedAt = Date.now();
      const res = await waitFor(async () => {
        const attempt = await postExecute(b.url, claudeRequest('RESUME-PROMPT take over', { resumeSessionId: 'crashy' }));
        if (attempt.status === 409) return undefined;
        return attempt;
      }, 10_000);
      assert.equal(res.status, 200, res.text);
      assert.ok(Date.now() - killedAt < 8_000, 'taken over soon after the lease expired');
      const resumed = await res.events();
      assert.equal(resumed[0]!.data.type, 'connected', 'the new stream starts with connected');
      assert.equal(resumed[0]!.data.resuming, true);
      assert.equal(resumed.at(-1)!.data.type, 'completed', JSON.stringify(resumed.at(-1)!.data));

      const log = await storedLog(b, 'crashy');
      assertIdsStrictlyIncreasing(log);
      assert.equal(new Set(log.map((event) => event.id)).size, log.length, 'no duplicate ids');
      for (const event of followed) {
        const stored = log.find((candidate) => candidate.id === event.id);
        assert.ok(stored, `A's checkpointed event ${event.id} is in the stored log`);
        assert.equal(stored.raw, event.raw, 'unchanged');
      }
      const interrupted = log.findIndex((event) => event.data.type === 'error');
      assert.ok(interrupted > 0, `an interrupted event: ${typesOf(log).join(',')}`);
      assert.equal(log[interrupted]!.data.code, 'WORKER_LOST', 'the same final event a reader would have stored');
      assert.match(String(log[interrupted]!.data.error), /interrupted/);
      assert.ok(log[interrupted - 1]!.id! >= followed.at(-1)!.id!, "after A's checkpointed events");
      assert.equal(log[interrupted + 1]!.id, resumed[0]!.id, "then B's connected");
      assert.deepEqual(
        log.slice(interrupted + 1).map((event) => event.raw),
        resumed.map((event) => event.raw),
        "then exactly B's stream",
      );
      assert.equal(log.filter((event) => event.data.type === 'error').length, 1);
      assert.equal(messagesText(fake.mainRequests().at(-1)!).includes('RESUME-PROMPT'), true);
      assert.equal(((await request(`${b.url}/sessions/crashy`)).json as { status: string }).status, 'completed');
      await assertNoLeaks([a, b]);
    } finally {
      await a.dispose();
      await b.dispose();
      // SIGKILL gives the worker no chance to stop its agent or remove the job's private home; a
      // container runtime would take both down with it. Reported, not asserted; cleaned up by pid here.
      await killLeftovers(a.dirs.workspace);
      await fake.close();
    }
  });

  it('store down at the final save: STORAGE_ERROR, worker healthy, saved at the next start-up, nothing lost', async () => {
    const fake = await startFakeAnthropic(writeThenAnswer(1_500));
    const bucket = newBucket('down-restart');
    let worker = await startWorker({
      env: s3Env(bucket, fake, { SAVE_RETRY_ATTEMPTS: '2', SESSION_LEASE_TTL_MS: '2000' }),
    });
    let s3Stopped = false;
    try {
      const res = await postExecute(worker.url, claudeRequest('FIRST-PROMPT write notes', { websiteSessionId: 'unsaved' }));
      assert.equal(res.status, 200, res.text);
      const reading = res.events({ timeoutMs: 90_000 });
      await fake.waitForMainRequest(1);
      await s3.stop();
      s3Stopped = true;

      const events = await reading;
      const last = events.at(-1)!.data;
      assert.equal(last.type, 'error', JSON.stringify(last));
      assert.equal(last.code, 'STORAGE_ERROR');
      assert.ok(typesOf(events).includes('assistant_message'), 'the agent did run');
      const health = await request(`${worker.url}/health`);
      assert.equal(health.status, 200);
      assert.equal((health.json as { workerStatus: string }).workerStatus, 'idle');
      assert.equal(await fs.readFile(path.join(sessionWorkspace(worker, 'unsaved'), 'notes.md'), 'utf8'), 'turn one\n');

      await s3.start();
      s3Stopped = false;
      // The worker could not release its lock while the store was down; wait until it lapses.
      // A read racing the worker's own write of the lock got s3rver's 500 once, under load: just read again.
      await waitFor(async () => {
        const body = await getObject(bucket, 'sessions/unsaved/lease.json').catch(() => undefined);
        const lease = body && (JSON.parse(body.toString('utf8')) as { expiresAt: number });
        return lease && lease.expiresAt < Date.now() - 100 ? true : undefined;
      }, 10_000);
      worker = await restartWorker(worker);
      await worker.waitForLog((record) => record.msg === 'pending session saved', 15_000);

      const metadata = (await request(`${worker.url}/sessions/unsaved`)).json as Record<string, unknown>;
      assert.equal(metadata.status, 'failed', JSON.stringify(metadata));
      assert.equal((metadata.lastError as { code: string }).code, 'STORAGE_ERROR');
      assert.equal(metadata.hasArchive, true);
      assert.equal(metadata.lastEventId, events.at(-1)!.id);
      const log = await storedLog(worker, 'unsaved');
      assert.deepEqual(
        log.map((event) => event.raw),
        events.map((event) => event.raw),
        'the stored log is the whole stream, STORAGE_ERROR included',
      );

      // The next turn, from the store alone (local copy removed): the first turn's file and conversation are there.
      await fs.rm(path.join(worker.dirs.workspace, 'sessions', 'unsaved'), { recursive: true, force: true });
      const next = await (await postExecute(worker.url, claudeRequest('SECOND-PROMPT go on', { resumeSessionId: 'unsaved' }))).events();
      assert.equal(next.at(-1)!.data.type, 'completed', JSON.stringify(next.at(-1)!.data));
      assert.equal(next[0]!.id, events.at(-1)!.id! + 1);
      assert.ok(!typesOf(next).includes('error'), 'no interrupted event: the session was saved');
      assert.equal(await fs.readFile(path.join(sessionWorkspace(worker, 'unsaved'), 'notes.md'), 'utf8'), 'turn one\n');
      const text = messagesText(fake.mainRequests().at(-1)!);
      assert.ok(text.includes('FIRST-PROMPT') && text.includes('FIRST-TURN-ANSWER'), 'the conversation carried over');
      await assertNoLeaks([worker]);
    } finally {
      if (s3Stopped) await s3.start();
      await worker.dispose();
      await fake.close();
    }
  });

  it('store down at the final save: the next turn on the same worker saves the pending turn first', async () => {
    const fake = await startFakeAnthropic(writeThenAnswer(1_500));
    const bucket = newBucket('down-next-turn');
    const worker = await startWorker({ env: s3Env(bucket, fake, { SAVE_RETRY_ATTEMPTS: '2', SESSION_LEASE_TTL_MS: '2000' }) });
    let s3Stopped = false;
    try {
      const res = await postExecute(worker.url, claudeRequest('FIRST-PROMPT write notes', { websiteSessionId: 'pending' }));
      const reading = res.events({ timeoutMs: 90_000 });
      await fake.waitForMainRequest(1);
      await s3.stop();
      s3Stopped = true;
      const events = await reading;
      assert.equal(events.at(-1)!.data.code, 'STORAGE_ERROR', JSON.stringify(events.at(-1)!.data));
      await s3.start();
      s3Stopped = false;

      const next = await waitFor(async () => {
        const attempt = await postExecute(worker.url, claudeRequest('SECOND-PROMPT go on', { websiteSessionId: 'pending' }));
        return attempt.status === 409 ? undefined : attempt;
      }, 10_000);
      assert.equal(next.status, 200, next.text);
      const second = await next.events();
      assert.equal(second.at(-1)!.data.type, 'completed', JSON.stringify(second.at(-1)!.data));
      assert.equal(second[0]!.id, events.at(-1)!.id! + 1, 'ids continue after the unsaved turn');
      assert.ok(!typesOf(second).includes('error'));
      const text = messagesText(fake.mainRequests().at(-1)!);
      assert.ok(text.includes('FIRST-PROMPT') && text.includes('FIRST-TURN-ANSWER'));

      // What the store now holds is enough on its own: another worker gets the file and the whole log.
      const other = await startWorker({ env: s3Env(bucket, fake) });
      try {
        const log = await storedLog(other, 'pending');
        assert.deepEqual(
          log.map((event) => event.raw),
          [...events, ...second].map((event) => event.raw),
          'both turns stored, the STORAGE_ERROR one included',
        );
        const third = await (await postExecute(other.url, claudeRequest('THIRD-PROMPT', { resumeSessionId: 'pending' }))).events();
        assert.equal(third.at(-1)!.data.type, 'completed', JSON.stringify(third.at(-1)!.data));
        assert.equal(await fs.readFile(path.join(sessionWorkspace(other, 'pending'), 'notes.md'), 'utf8'), 'turn one\n');
      } finally {
        await other.dispose();
      }
      await assertNoLeaks([worker]);
    } finally {
      if (s3Stopped) await s3.start();
      await worker.dispose();
      await fake.close();
    }
  });

  it('a corrupted archive is detected on resume and never restored', async () => {
    const fake = await startFakeAnthropic(writeThenAnswer());
    const bucket = newBucket('corrupt');
    const a = await startWorker({ env: s3Env(bucket, fake) });
    const b = await startWorker({ env: s3Env(bucket, fake) });
    try {
      const first = await (await postExecute(a.url, claudeRequest('FIRST-PROMPT write notes', { websiteSessionId: 'rotten' }))).events();
      assert.equal(first.at(-1)!.data.type, 'completed', JSON.stringify(first.at(-1)!.data));

      const pointer = JSON.parse((await getObject(bucket, 'sessions/rotten/archive.json')).toString('utf8')) as { name: string };
      const archiveKey = `sessions/rotten/${pointer.name}`;
      assert.deepEqual(await listKeys(bucket, 'sessions/rotten/archives/'), [archiveKey]);
      const original = await getObject(bucket, archiveKey);
      const tampered = Buffer.from(original);
      for (let i = Math.floor(tampered.length / 3); i < Math.floor(tampered.length / 3) + 16 && i < tampered.length; i++) {
        tampered[i] = tampered[i]! ^ 0xff;
      }
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: archiveKey, Body: tampered }));

      const res = await postExecute(b.url, claudeRequest('SECOND-PROMPT continue', { resumeSessionId: 'rotten' }));
      assert.equal(res.status, 200, res.text);
      const events = await res
        .events({ timeoutMs: 15_000 })
        .catch((error: Error) => assert.fail(`the stream must end after its error event: ${error.message}`));
      const last = events.at(-1)!.data;
      assert.equal(last.type, 'error', JSON.stringify(last));
      assert.equal(last.code, 'STORAGE_ERROR');
      assert.match(String(last.error), /checksum|corrupt|integrity|could not be restored/i);
      assert.equal(fake.mainRequests().length, 2, 'no agent ran on a workspace that did not come back');

      const bSession = path.join(b.dirs.workspace, 'sessions');
      const leftover = [...(await readTree(bSession)).keys()].map((file) => path.relative(bSession, file));
      assert.ok(!leftover.some((file) => file.endsWith('notes.md')), `nothing half-restored on B: ${leftover.join(', ')}`);
      assert.ok(!leftover.some((file) => file.includes('.restore-')), `no staging left: ${leftover.join(', ')}`);

      // The failed job must not paper over the damage with B's empty folder.
      const pointerAfter = JSON.parse((await getObject(bucket, 'sessions/rotten/archive.json')).toString('utf8')) as { name: string };
      assert.equal(pointerAfter.name, pointer.name, 'the stored archive was not replaced by an empty workspace');
      const retry = await postExecute(b.url, claudeRequest('THIRD-PROMPT', { resumeSessionId: 'rotten' }));
      assert.equal(retry.status, 200, `the failed job released the session: ${retry.status} ${retry.text}`);
      const again = await retry.events({ timeoutMs: 15_000 });
      assert.equal(again.at(-1)!.data.code, 'STORAGE_ERROR', `still detected: ${JSON.stringify(again.at(-1)!.data)}`);
      assert.equal(fake.mainRequests().length, 2);
    } finally {
      await a.dispose();
      await b.dispose();
      await fake.close();
    }
  });

  it('DELETE /sessions/:id removes every object of the session from the bucket, never while it runs elsewhere', async () => {
    const firstTurn = writeThenAnswer() as (ctx: ScriptContext) => FakeReply;
    const fake = await startFakeAnthropic((ctx) => (ctx.index === 2 ? { type: 'text', text: 'slowly', delayMs: 2_000 } : firstTurn(ctx)));
    const bucket = newBucket('delete');
    const a = await startWorker({ env: s3Env(bucket, fake) });
    const b = await startWorker({ env: s3Env(bucket, fake) });
    try {
      const events = await (await postExecute(a.url, claudeRequest('FIRST-PROMPT write notes', { websiteSessionId: 'doomed' }))).events();
      assert.equal(events.at(-1)!.data.type, 'completed');
      const keys = await listKeys(bucket, 'sessions/doomed/');
      for (const name of ['metadata.json', 'events.jsonl', 'archive.json', 'lease.json']) {
        assert.ok(keys.includes(`sessions/doomed/${name}`), `${name} stored: ${keys.join(', ')}`);
      }
      assert.ok(keys.some((key) => key.startsWith('sessions/doomed/archives/')));

      // While A runs the session again, B must not delete it from under A.
      const running = await postExecute(a.url, claudeRequest('SLOW second turn', { resumeSessionId: 'doomed' }));
      assert.equal(running.status, 200, running.text);
      const reading = running.events();
      await waitFor(async () => ((await request(`${b.url}/sessions/doomed`)).json as { status?: string }).status === 'running' || undefined);
      const refused = await request(`${b.url}/sessions/doomed`, { method: 'DELETE' });
      assert.equal(refused.status, 409, refused.text);
      assert.equal((refused.json as { code: string }).code, 'SESSION_BUSY');
      assert.equal((await reading).at(-1)!.data.type, 'completed');

      const deleted = await request(`${b.url}/sessions/doomed`, { method: 'DELETE' });
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(deleted.json, { sessionId: 'doomed', deleted: true });
      assert.deepEqual(await listKeys(bucket, 'sessions/doomed/'), []);
      assert.equal((await request(`${a.url}/sessions/doomed`)).status, 404);
      assert.equal((await request(`${b.url}/sessions/doomed`, { method: 'DELETE' })).status, 404);
    } finally {
      await a.dispose();
      await b.dispose();
      await fake.close();
    }
  });
});
