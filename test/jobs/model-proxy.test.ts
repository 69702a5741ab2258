/**
 * Issue #12: the agent never holds the user's credential. Real workers, the real
 * `claude` and `codex` binaries, the suite's fake model APIs, a fake OAuth token
 * endpoint and a real git server: an agent command dumps its environment, its home
 * and /proc/self/environ into a file that is committed and pushed (or archived), and
 * the real credential must be nowhere — not in that file, the store, the logs or the
 * pushed repository — while the fake model saw it on every call.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../../src/client/index.js';
import { startFakeAnthropic, type FakeAnthropic, type FakeReply, type ScriptContext } from '../fixtures/fake-anthropic.js';
import { startFakeOauth, type FakeOauth } from '../fixtures/fake-oauth.js';
import { inputText, startFakeOpenAI, type FakeOpenAI, type FakeOpenAIReply, type RecordedRequest } from '../fixtures/fake-openai.js';
import { branchCommits, readFileAt, startGitServer, type GitServer } from '../fixtures/git-server.js';
import { getStream, postExecute, request, type SseEvent } from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';
import { claudeRequest, findLeakedSecrets, readArchives } from './helpers.js';

const API_KEY = 'sk-ant-api03-PROXYTEST-REAL-KEY-6f5e4d3c2b1a';
const CODEX_KEY = 'sk-proj-PROXYTEST-REAL-CODEX-KEY-9a8b7c6d';
const GIT_TOKEN = 'ghp_PROXYTEST_GIT_TOKEN_0f1e2d3c4b5a';
const OLD_ACCESS = 'sk-ant-oat01-PROXYTEST-EXPIRED-ACCESS-1111';
const OLD_REFRESH = 'sk-ant-ort01-PROXYTEST-FIRST-REFRESH-2222';
const DB_TOKEN = 'db-token-PROXYTEST-3c4d5e6f';

/** Everything the agent could know: its environment, every file of its home, its process's environ. */
const DUMP = [
  '{ echo "== env"; env',
  'echo "== home"; find "$HOME" -type f -print -exec cat {} \\;',
  'echo "== environ"; tr "\\0" "\\n" < /proc/self/environ; } > dump.txt 2>&1; true',
].join('; ');

function conversation(ctx: ScriptContext): string {
  return JSON.stringify(ctx.request.body?.messages ?? []);
}

/** Runs DUMP once when asked to, then answers; refuses any credential the fake does not know. */
function claudeScript(oauth: () => FakeOauth): (ctx: ScriptContext) => FakeReply {
  return (ctx) => {
    const { apiKey, bearer } = ctx.request.auth;
    if ((apiKey !== undefined && apiKey !== API_KEY) || (bearer !== undefined && bearer !== oauth().accessToken)) {
      return { type: 'error', status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } };
    }
    const text = conversation(ctx);
    if (text.includes('DUMP') && !text.includes('tool_result')) {
      return { type: 'tool_use', name: 'Bash', input: { command: DUMP, description: 'dump' } };
    }
    return { type: 'text', text: 'Done.' };
  };
}

/** The fake DB API of `database` requests: records every event it gets. */
async function startDbApi(): Promise<{ url: string; bodies: string[]; server: Server }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      bodies.push(raw);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, bodies, server };
}

/** A variable's value in the dump's `env` section. */
function dumpedVariable(dump: string, name: string): string | undefined {
  return new RegExp(`^${name}=(.*)$`, 'm').exec(dump)?.[1];
}

function lastEvent(events: SseEvent[]): SseEvent['data'] {
  return events.at(-1)!.data;
}

describe('the model proxy: the agent never holds the user\'s credential (issue #12)', () => {
  let fake: FakeAnthropic;
  let oauth: FakeOauth;
  let gitServer: GitServer;
  let db: Awaited<ReturnType<typeof startDbApi>>;
  let worker: WorkerHandle;

  before(async () => {
    oauth = await startFakeOauth({ refreshToken: OLD_REFRESH });
    fake = await startFakeAnthropic(claudeScript(() => oauth));
    gitServer = await startGitServer({ token: GIT_TOKEN });
    db = await startDbApi();
    worker = await startWorker({
      env: {
        ANTHROPIC_BASE_URL: fake.url,
        CLAUDE_OAUTH_TOKEN_URL: oauth.tokenUrl,
        GIT_ALLOWED_URL_PREFIXES: `${gitServer.url}/`,
        DB_BASE_URL: db.url,
      },
    });
  });

  after(async () => {
    await worker?.dispose();
    await fake?.close();
    await oauth?.close();
    await gitServer?.close();
    await new Promise((resolve) => db?.server.close(resolve));
  });

  it('an API key: the fake sees it on every call, the pushed dump of env, home and environ holds only the job token', async () => {
    const repo = await gitServer.createRepo('acme/proxy', { 'README.md': '# proxy\n' });
    fake.requests.length = 0;
    const res = await postExecute(
      worker.url,
      claudeRequest('Please DUMP', {
        codingAssistantAuthentication: API_KEY,
        websiteSessionId: 'proxy-apikey',
        github: { repoUrl: repo.url, accessToken: GIT_TOKEN },
      }),
    );
    const events = await res.events({ timeoutMs: 90_000 });
    const completed = lastEvent(events);
    assert.equal(completed.type, 'completed', JSON.stringify(completed));

    const branch = String(completed.branch);
    assert.ok((await branchCommits(repo.bareDir, branch)).length > 0, 'the dump was committed and pushed');
    const dump = await readFileAt(repo.bareDir, branch, 'dump.txt');
    assert.match(dump, /== environ/, 'the dump ran');
    assert.ok(!dump.includes(API_KEY), 'the pushed dump holds the real key');
    const jobToken = dumpedVariable(dump, 'ANTHROPIC_API_KEY');
    const proxyUrl = dumpedVariable(dump, 'ANTHROPIC_BASE_URL');
    assert.ok(jobToken && jobToken.length >= 40, `the agent holds a per-job token (${jobToken})`);
    assert.match(proxyUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/anthropic$/, 'the agent talks to the proxy');
    assert.ok(!dump.includes(fake.url), 'the agent is not told where the real model API is');

    const calls = fake.requests.filter((r) => r.path === '/v1/messages');
    assert.ok(calls.length >= 2, 'the model was called');
    for (const call of fake.requests) assert.equal(call.auth.apiKey, API_KEY, `${call.path} reached the fake with the real key`);

    // Usage comes from the upstream's own answers (the fake reports 50 in, 10 out per call).
    const usage = completed.usage as Record<string, number>;
    assert.equal(usage.modelCalls, calls.length, 'every model call of the job was counted, titles and commit message too');
    assert.equal(usage.inputTokens, 50 * calls.length);
    assert.equal(usage.outputTokens, 10 * calls.length);
    const metrics = await request(`${worker.url}/metrics`);
    assert.match(metrics.text, /ai_coding_worker_model_calls_total\{api="anthropic"\} \d+/);

    // The token is worthless once its job ended; the proxy never forwards a refused call.
    const before = fake.requests.length;
    const late = await fetch(`${proxyUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': jobToken, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-fake-1', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(late.status, 401, 'a finished job\'s token is refused');
    const made = await fetch(`${proxyUrl}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'made-up' }, body: '{}' });
    assert.equal(made.status, 401, 'an unknown token is refused');
    assert.equal(fake.requests.length, before, 'refused calls never reach the upstream');

    assert.deepEqual(await findLeakedSecrets(worker, [API_KEY, GIT_TOKEN]), []);
  });

  it('an expired OAuth login: refreshed by the worker, sent live once, handed back once, stored nowhere', async () => {
    fake.requests.length = 0;
    const login = { claudeAiOauth: { accessToken: OLD_ACCESS, refreshToken: OLD_REFRESH, expiresAt: Date.now() - 60_000, scopes: ['user:inference'] } };
    const res = await postExecute(
      worker.url,
      claudeRequest('Please DUMP', {
        codingAssistantAuthentication: login,
        websiteSessionId: 'proxy-oauth',
        database: { sessionId: 'proxy-oauth-db', accessToken: DB_TOKEN },
      }),
    );
    const events = await res.events({ timeoutMs: 90_000 });
    assert.equal(lastEvent(events).type, 'completed', JSON.stringify(lastEvent(events)));
    const newAccess = oauth.accessToken;
    const newRefresh = oauth.refreshToken;
    assert.notEqual(newAccess, OLD_ACCESS);
    assert.equal(oauth.requests.length, 1, 'one refresh for the whole job');
    assert.equal(oauth.requests[0]!.body.refresh_token, OLD_REFRESH);

    const updates = events.filter((event) => event.data.type === 'credentials_updated');
    assert.equal(updates.length, 1, 'the live stream carries the refreshed login once');
    assert.equal(updates[0]!.event, 'credentials_updated', 'as a named SSE event');
    assert.equal(updates[0]!.rawId, undefined, 'without an id of its own');
    assert.equal(updates[0]!.data.accessToken, newAccess);
    assert.equal(updates[0]!.data.refreshToken, newRefresh);
    assert.ok(Number(updates[0]!.data.expiresAt) > Date.now(), 'with its new expiry');
    const numbered = events.filter((event) => event.data.type !== 'credentials_updated').map((event) => event.id);
    assert.deepEqual(numbered, numbered.map((_, index) => index + 1), 'the numbered events count on without a gap');

    for (const call of fake.requests) {
      assert.equal(call.auth.bearer, newAccess, `${call.path} went upstream with the refreshed token`);
      assert.match(call.anthropicBeta ?? '', /oauth-2025-04-20/, 'with the OAuth beta header');
    }

    const replay = await getStream(worker.url, 'proxy-oauth');
    const stored = await replay.events({ timeoutMs: 10_000 });
    assert.ok(!stored.some((event) => event.data.type === 'credentials_updated'), 'never in the stored log');
    assert.ok(db.bodies.length > 0, 'the DB sink got the job\'s events');
    assert.ok(!db.bodies.some((body) => body.includes('credentials_updated')), 'never sent to the DB sink');
    for (const secret of [OLD_ACCESS, OLD_REFRESH, newAccess, newRefresh]) {
      assert.ok(!db.bodies.some((body) => body.includes(secret)), 'no token reached the DB sink');
    }

    const archives = await readArchives(worker.dirs.sessions);
    const dump = [...archives].find(([name]) => name.includes('proxy-oauth') && name.endsWith('dump.txt'))?.[1];
    assert.ok(dump?.includes('== environ'), 'the dump was archived with the session');
    assert.deepEqual(await findLeakedSecrets(worker, [OLD_ACCESS, OLD_REFRESH, newAccess, newRefresh]), []);

    const first = await request(`${worker.url}/sessions/proxy-oauth/credentials`);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    assert.deepEqual(
      { ...(first.json as object), expiresAt: undefined },
      { sessionId: 'proxy-oauth', accessToken: newAccess, refreshToken: newRefresh, expiresAt: undefined },
    );
    const second = await request(`${worker.url}/sessions/proxy-oauth/credentials`);
    assert.equal(second.status, 404, 'handed back once');
    assert.equal((second.json as { code: string }).code, 'CREDENTIALS_NOT_FOUND');
    assert.equal(await createClient({ baseUrl: worker.url }).takeCredentials('proxy-oauth'), undefined, 'the client reads the 404 as none');
  });

  it('a refresh the token endpoint refuses ends the job with AUTH_ERROR, and the session is saved', async () => {
    oauth.overrideNext({ status: 400, body: { error: 'invalid_grant', error_description: 'Refresh token not found or invalid' } });
    const login = { claudeAiOauth: { accessToken: OLD_ACCESS, refreshToken: 'sk-ant-ort01-PROXYTEST-DEAD', expiresAt: Date.now() - 1_000 } };
    const res = await postExecute(worker.url, claudeRequest('Hello', { codingAssistantAuthentication: login, websiteSessionId: 'proxy-dead-login' }));
    const events = await res.events({ timeoutMs: 60_000 });
    const last = lastEvent(events);
    assert.equal(last.type, 'error', JSON.stringify(last));
    assert.equal(last.code, 'AUTH_ERROR');
    assert.match(String(last.error), /invalid_grant/);
    const session = await request(`${worker.url}/sessions/proxy-dead-login`);
    assert.equal((session.json as { status: string }).status, 'failed');
  });
});

describe('the model proxy with Codex (issue #12)', () => {
  let fake: FakeOpenAI;
  let worker: WorkerHandle;

  before(async () => {
    fake = await startFakeOpenAI(({ request: req }: { request: RecordedRequest }): FakeOpenAIReply => {
      const done = ((req.body?.input ?? []) as Array<{ type?: string }>).some((item) => item.type?.endsWith('_call_output'));
      if (inputText(req).includes('DUMP') && !done) {
        return { type: 'exec', cmd: 'env > dump.txt; cat "$CODEX_HOME/auth.json" >> dump.txt; tr "\\0" "\\n" < /proc/self/environ >> dump.txt' };
      }
      return { type: 'text', text: 'Done.' };
    });
    worker = await startWorker({ env: { OPENAI_BASE_URL: fake.url } });
  });

  after(async () => {
    await worker?.dispose();
    await fake?.close();
  });

  it('an API key: the fake sees it, the agent\'s auth.json and environment hold only the job token', async () => {
    const res = await postExecute(worker.url, {
      userRequest: 'Please DUMP',
      codingAssistantProvider: 'CodexSDK',
      codingAssistantAuthentication: CODEX_KEY,
      websiteSessionId: 'proxy-codex',
    });
    const events = await res.events({ timeoutMs: 60_000 });
    const completed = lastEvent(events);
    assert.equal(completed.type, 'completed', JSON.stringify(completed));
    assert.ok(fake.mainRequests().length >= 2);
    for (const call of fake.requests) assert.equal(call.auth.bearer, CODEX_KEY, `${call.path} reached the fake with the real key`);
    assert.equal((completed.usage as Record<string, number>).modelCalls, fake.mainRequests().length);

    const archives = await readArchives(worker.dirs.sessions);
    const dump = [...archives].find(([name]) => name.includes('proxy-codex') && name.endsWith('dump.txt'))?.[1];
    assert.ok(dump?.includes('OPENAI_API_KEY'), `the dump was archived with auth.json: ${dump?.slice(0, 200)}`);
    assert.match(dump!, /127\.0\.0\.1:\d+\/openai\/v1/, 'the agent talks to the proxy');
    assert.deepEqual(await findLeakedSecrets(worker, [CODEX_KEY]), []);
  });
});
