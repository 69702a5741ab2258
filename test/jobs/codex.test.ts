/**
 * Codex jobs through the real worker over HTTP: the real `codex` binary (from
 * @openai/codex-sdk) against the scripted fake Responses API.
 *
 * Keeping the binary offline: the worker builds the agent's environment itself and
 * passes on only OPENAI_BASE_URL / ANTHROPIC_BASE_URL (src/config/env.ts `agentEnv`;
 * src/providers/codex.ts `buildEnv` starts from PATH/LANG/TZ), so an HTTPS_PROXY set on
 * the worker would never reach codex. What does reach it is OPENAI_BASE_URL, which the
 * provider turns into a config.toml model provider, plus the config switches that turn
 * off every phone-home (docs/codex-provider-notes.md). The tests check that every
 * request the fake saw was a model call authenticated with the request's key.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalizedItemSchema } from '../../src/events/normalized.js';
import { FAKE_USAGE, inputText, startFakeOpenAI, type FakeOpenAI, type FakeOpenAIReply, type RecordedRequest } from '../fixtures/fake-openai.js';
import { assertErrorResponse, postExecute, request, type SseEvent } from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';
import { findLeakedSecrets, sessionWorkspace, typesOf } from './helpers.js';

/** Looks real, easy to grep for. */
const CODEX_KEY = 'sk-proj-JOBTEST-CODEX-KEY-7e6d5c4b3a29';

function codexRequest(userRequest: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { userRequest, codingAssistantProvider: 'CodexSDK', codingAssistantAuthentication: CODEX_KEY, ...extra };
}

/** True when the request brings back the output of a tool call (the second step of a tool round trip). */
function hasToolOutput(req: RecordedRequest): boolean {
  return ((req.body?.input ?? []) as Array<{ type?: unknown }>).some(
    (item) => typeof item?.type === 'string' && item.type.endsWith('_call_output'),
  );
}

/** One script for every scenario, keyed by markers in the prompt, so workers can share a fake. */
function script({ request: req }: { request: RecordedRequest }): FakeOpenAIReply {
  const text = inputText(req);
  if (text.includes('FAIL-THE-MODEL')) return { type: 'error', status: 400, message: 'The model `nope` does not exist.' };
  if (text.includes('CREATE-FILE')) {
    return hasToolOutput(req)
      ? { type: 'text', text: 'Created it.' }
      : { type: 'exec', cmd: "printf 'hello from codex\\n' > created.txt" };
  }
  if (text.includes('SECOND-PROMPT')) return { type: 'text', text: 'SECOND-TURN-ANSWER' };
  if (text.includes('FIRST-PROMPT')) return { type: 'text', text: 'FIRST-TURN-ANSWER ALPHA-7' };
  return { type: 'text', text: 'Done.' };
}

/** Every request the fake saw was a Responses API call on its own routes, with the request's key. */
function assertOnlyModelTraffic(fake: FakeOpenAI): void {
  assert.ok(fake.mainRequests().length > 0, 'the model was called');
  const foreign = fake.requests.filter((r) => r.method === 'CONNECT' || !r.path.startsWith('/v1/'));
  assert.deepEqual(foreign.map((r) => `${r.method} ${r.path}`), [], 'only the model endpoint was called');
  for (const r of fake.requests) assert.equal(r.auth.bearer, CODEX_KEY, `${r.method} ${r.path} authenticates with the request's key`);
}

function assertNumbered(events: SseEvent[], first = 1): void {
  assert.deepEqual(
    events.map((event) => event.id),
    events.map((_, index) => index + first),
    'ids count on without gaps',
  );
}

function assistantMessages(events: SseEvent[]): SseEvent[] {
  return events.filter((event) => event.data.type === 'assistant_message');
}

function threadStartedId(events: SseEvent[]): string | undefined {
  const started = assistantMessages(events)
    .map((event) => event.data.data as { type?: string; thread_id?: string })
    .find((message) => message.type === 'thread.started');
  return started?.thread_id;
}

function describeEvents(events: SseEvent[]): string {
  return events.map((event) => event.raw).join('\n').slice(-4000);
}

describe('Codex jobs through the worker with the real codex binary', () => {
  let fake: FakeOpenAI;
  let worker: WorkerHandle;

  before(async () => {
    fake = await startFakeOpenAI(script);
    // The fake's url already ends in /v1, which is what the provider's base_url wants.
    worker = await startWorker({ env: { OPENAI_BASE_URL: fake.url } });
  });

  after(async () => {
    await worker?.dispose();
    await fake?.close();
  });

  it('creates a file through a tool call; streams raw ThreadEvents with normalized items; leaks no key', async () => {
    fake.requests.length = 0;
    const res = await postExecute(worker.url, codexRequest('CREATE-FILE: create created.txt please'));
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const sessionId = res.headers.get('x-session-id') ?? '';
    assert.match(sessionId, /^[0-9a-f-]{36}$/);

    const events = await res.events({ timeoutMs: 45_000 });
    const types = typesOf(events);
    assert.equal(types[0], 'connected', describeEvents(events));
    assert.equal(types.at(-1), 'completed', describeEvents(events));
    assertNumbered(events);
    for (const event of events) assert.match(String(event.data.timestamp), /^\d{4}-\d\d-\d\dT/);

    const connected = events[0]!.data;
    assert.equal(connected.provider, 'codex');
    assert.equal(connected.sessionId, sessionId);
    assert.equal(connected.resuming, false);

    const assistant = assistantMessages(events);
    assert.ok(assistant.length >= 4, `several ThreadEvents arrive (${assistant.length})`);
    assert.ok(assistant.every((event) => event.data.provider === 'codex'));
    const raw = assistant.map((event) => event.data.data as { type: string; item?: { type?: string; status?: string; text?: string } });
    assert.equal(raw[0]!.type, 'thread.started', 'the first message is the raw thread.started');
    assert.equal(raw.at(-1)!.type, 'turn.completed');
    assert.ok(
      raw.some((m) => m.type === 'item.completed' && m.item?.type === 'command_execution' && m.item.status === 'completed'),
      'the shell command ran',
    );
    assert.ok(raw.some((m) => m.item?.type === 'agent_message' && m.item.text === 'Created it.'), 'the final answer is forwarded');

    const withNormalized = assistant.filter((event) => event.data.normalized !== undefined);
    assert.ok(withNormalized.length > 0, 'normalized items are attached');
    for (const event of withNormalized) {
      const items = event.data.normalized;
      assert.ok(Array.isArray(items) && items.length > 0, `normalized is a non-empty array: ${event.raw}`);
      for (const item of items as Array<Record<string, unknown>>) {
        assert.equal(item.v, 1, event.raw);
        assert.equal(typeof item.kind, 'string', event.raw);
        normalizedItemSchema.parse(item);
      }
    }
    const kinds = withNormalized.flatMap((event) => (event.data.normalized as Array<{ kind: string }>).map((item) => item.kind));
    for (const kind of ['system', 'tool_call', 'tool_result', 'text', 'result']) assert.ok(kinds.includes(kind), `a ${kind} item (${kinds.join(',')})`);

    const completed = events.at(-1)!.data;
    assert.equal(completed.sessionId, sessionId);
    assert.equal(typeof completed.duration_ms, 'number');
    // Two model steps (the tool call, then the answer), each with the fake's usage.
    assert.deepEqual(completed.usage, {
      inputTokens: 2 * (FAKE_USAGE.input_tokens - FAKE_USAGE.cached_input_tokens),
      outputTokens: 2 * FAKE_USAGE.output_tokens,
      cacheReadInputTokens: 2 * FAKE_USAGE.cached_input_tokens,
      // Counted by the model proxy from the fake's answers (issue #12).
      modelCalls: 2,
      cacheCreationInputTokens: 0,
    });

    const written = await fs.readFile(path.join(sessionWorkspace(worker, sessionId), 'created.txt'), 'utf8');
    assert.equal(written, 'hello from codex\n');

    const metadata = (await request(`${worker.url}/sessions/${sessionId}`)).json as Record<string, unknown>;
    assert.equal(metadata.status, 'completed');
    assert.equal(metadata.provider, 'codex');
    assert.equal(metadata.hasArchive, true);
    assert.equal(metadata.agentSessionId, threadStartedId(events), 'the Codex thread id is kept for resume');

    assertOnlyModelTraffic(fake);
    assert.deepEqual(await findLeakedSecrets(worker, [CODEX_KEY]), []);
  });

  it('rejects bad Codex credentials with 400 before any stream and stays idle', async () => {
    const before = ((await request(`${worker.url}/sessions`)).json as { count: number }).count;
    for (const bad of [{}, { tokens: 5 }, 'short']) {
      const res = await postExecute(worker.url, codexRequest('hello', { codingAssistantAuthentication: bad }));
      assert.equal(res.isStream, false, `no stream for ${JSON.stringify(bad)}`);
      assertErrorResponse(res, { status: 400, code: 'VALIDATION_ERROR', field: 'codingAssistantAuthentication' });
      const status = await request(`${worker.url}/status`);
      assert.equal(status.status, 200, 'the worker is idle');
      assert.equal((status.json as { status: string }).status, 'idle');
    }
    const afterCount = ((await request(`${worker.url}/sessions`)).json as { count: number }).count;
    assert.equal(afterCount, before, 'no session was created');
  });

  it('reports a model error as PROVIDER_ERROR and saves the session as failed', async () => {
    const started = Date.now();
    const res = await postExecute(worker.url, codexRequest('FAIL-THE-MODEL please'));
    assert.equal(res.status, 200, res.text);
    const sessionId = res.headers.get('x-session-id')!;
    const events = await res.events({ timeoutMs: 30_000 });
    assert.ok(Date.now() - started < 20_000, `fails fast (${Date.now() - started} ms)`);
    assert.equal(events[0]!.data.type, 'connected');
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'error', describeEvents(events));
    assert.equal(last.code, 'PROVIDER_ERROR', describeEvents(events));
    assert.match(String(last.error), /does not exist|400/);
    assert.ok(!String(last.error).includes(CODEX_KEY));
    assert.ok(!typesOf(events).includes('completed'));

    const metadata = (await request(`${worker.url}/sessions/${sessionId}`)).json as Record<string, any>;
    assert.equal(metadata.status, 'failed');
    assert.equal(metadata.hasArchive, true);
    assert.equal(metadata.lastError?.code, 'PROVIDER_ERROR');
    const stored = JSON.parse(await fs.readFile(path.join(worker.dirs.sessions, sessionId, 'metadata.json'), 'utf8'));
    assert.equal(stored.status, 'failed');
    assert.equal((await request(`${worker.url}/status`)).status, 200, 'the worker is idle again');
    assert.deepEqual(await findLeakedSecrets(worker, [CODEX_KEY]), []);
  });
});

describe('resuming a Codex session on another worker', () => {
  it('continues the thread from the shared session store, in a different WORKSPACE_DIR', async () => {
    const fake = await startFakeOpenAI(script);
    const env = { OPENAI_BASE_URL: fake.url };
    const workerA = await startWorker({ env });
    let workerB: WorkerHandle | undefined;
    try {
      const first = await (await postExecute(workerA.url, codexRequest('FIRST-PROMPT remember ALPHA-7', { websiteSessionId: 'codex-chat-1' }))).events({ timeoutMs: 30_000 });
      assert.equal(first.at(-1)!.data.type, 'completed', describeEvents(first));
      assertNumbered(first);
      const threadId = threadStartedId(first);
      assert.ok(threadId, 'turn 1 started a thread');
      await workerA.stop();

      workerB = await startWorker({ dirs: { sessions: workerA.dirs.sessions }, env });
      assert.notEqual(workerB.dirs.workspace, workerA.dirs.workspace);
      const res = await postExecute(workerB.url, codexRequest('SECOND-PROMPT what was the word?', { resumeSessionId: 'codex-chat-1' }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('x-session-id'), 'codex-chat-1');
      const second = await res.events({ timeoutMs: 30_000 });
      assert.equal(second[0]!.data.type, 'connected');
      assert.equal(second[0]!.data.resuming, true);
      assert.equal(second[0]!.data.provider, 'codex');
      assert.equal(second.at(-1)!.data.type, 'completed', describeEvents(second));
      assertNumbered(second, first.at(-1)!.id! + 1);
      assert.equal(threadStartedId(second), threadId, 'the same Codex thread is resumed');

      const last = fake.mainRequests().at(-1)!;
      const text = inputText(last);
      assert.ok(text.includes('FIRST-PROMPT remember ALPHA-7'), 'the model receives the first prompt');
      assert.ok(text.includes('FIRST-TURN-ANSWER ALPHA-7'), 'and the first answer');
      assert.ok(text.includes('SECOND-PROMPT'));

      const metadata = (await request(`${workerB.url}/sessions/codex-chat-1`)).json as Record<string, unknown>;
      assert.equal(metadata.turns, 2);
      assert.equal(metadata.status, 'completed');
      assert.equal(metadata.lastEventId, second.at(-1)!.id);
      assertOnlyModelTraffic(fake);
      assert.deepEqual(await findLeakedSecrets(workerB, [CODEX_KEY]), []);
      assert.equal(workerA.logs().includes(CODEX_KEY), false, 'worker A logged no key');
    } finally {
      // B does not own the sessions dir; A removes it.
      await workerB?.dispose();
      await workerA.dispose();
      await fake.close();
    }
  });
});
