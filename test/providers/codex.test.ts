/**
 * The Codex provider driven directly (no HTTP): the real `codex` binary from
 * @openai/codex-sdk against the scripted fake Responses API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkerError } from '../../src/errors/worker-error.js';
import { normalizedItemSchema } from '../../src/events/normalized.js';
import { codexProvider } from '../../src/providers/codex.js';
import { findMarkedProcesses } from '../../src/providers/process-sweep.js';
import type { ProviderRunInput, ProviderRunResult } from '../../src/providers/types.js';
import { FAKE_USAGE, inputImages, inputText, startFakeOpenAI, type FakeOpenAI, type FakeOpenAIScript } from '../fixtures/fake-openai.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';
import { giveToAgent, testAgentUser } from '../fixtures/agent-user.js';
import type { AgentUser } from '../../src/isolation/types.js';

const API_KEY = 'sk-test-codex-4f9a8b7c6d5e';
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

interface Job {
  root: TempDir;
  cwd: string;
  homeDir: string;
  stateDir: string;
  agentUser: AgentUser;
}

/** A job's folders as the job runner makes them: workspace, private home (0700), state. */
async function makeJob(stateDir?: string): Promise<Job> {
  const root = await makeTempDir('acw-codex');
  const cwd = join(root.path, 'workspace', 'project');
  const homeDir = join(root.path, 'home');
  await mkdir(cwd, { recursive: true });
  await mkdir(homeDir, { mode: 0o700 });
  const state = stateDir ?? join(root.path, 'state');
  await mkdir(state, { recursive: true });
  const agentUser = await testAgentUser();
  await giveToAgent(agentUser, root.path, cwd);
  return { root, cwd, homeDir, stateDir: state, agentUser };
}

function runInput(job: Job, fake: FakeOpenAI, overrides: Partial<ProviderRunInput> = {}): ProviderRunInput & { messages: unknown[] } {
  const messages: unknown[] = [];
  return {
    prompt: 'Create the file please.',
    cwd: job.cwd,
    homeDir: job.homeDir,
    stateDir: job.stateDir,
    credentials: codexProvider.parseCredentials(API_KEY),
    options: {},
    // The fake is also the proxy: any attempt to reach another host is recorded there.
    env: {
      OPENAI_BASE_URL: fake.url,
      HTTPS_PROXY: fake.proxyUrl,
      HTTP_PROXY: fake.proxyUrl,
      ALL_PROXY: fake.proxyUrl,
      https_proxy: fake.proxyUrl,
      http_proxy: fake.proxyUrl,
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
    },
    agentUser: job.agentUser,
    signal: new AbortController().signal,
    onMessage: (m) => messages.push(m),
    messages,
    ...overrides,
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function anyFileContains(dir: string, needle: string): Promise<string | undefined> {
  for (const file of await filesUnder(dir)) if ((await readFile(file)).includes(needle)) return file;
  return undefined;
}

/** Nothing went through the proxy (CONNECT, or an absolute URL): every request was the fake's own. */
function assertOnlyFakeTraffic(fake: FakeOpenAI, bearer = API_KEY): void {
  const foreign = fake.requests.filter((r) => r.method === 'CONNECT' || !r.path.startsWith('/'));
  assert.deepEqual(foreign.map((r) => `${r.method} ${r.path}`), [], 'no request to any other host');
  assert.ok(fake.mainRequests().length > 0);
  for (const r of fake.requests) assert.equal(r.auth.bearer, bearer);
}

describe('codex provider', () => {
  test('parseCredentials accepts the documented forms and rejects the rest', () => {
    const jwt = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig';
    assert.deepEqual(codexProvider.parseCredentials(API_KEY).secrets, [API_KEY]);
    assert.deepEqual(codexProvider.parseCredentials({ apiKey: API_KEY }).secrets, [API_KEY]);
    assert.deepEqual(codexProvider.parseCredentials({ OPENAI_API_KEY: API_KEY }).secrets, [API_KEY]);
    assert.deepEqual(codexProvider.parseCredentials(JSON.stringify({ OPENAI_API_KEY: API_KEY })).secrets, [API_KEY]);
    const chatgpt = codexProvider.parseCredentials({
      OPENAI_API_KEY: null,
      tokens: { id_token: jwt, access_token: 'access-token-1', refresh_token: 'refresh-token-1', account_id: 'acct_1' },
    });
    assert.deepEqual(chatgpt.secrets, [jwt, 'access-token-1', 'refresh-token-1']);

    for (const bad of [
      '',
      'short',
      'has spaces in it',
      42,
      null,
      [],
      { key: API_KEY },
      { tokens: { access_token: 'a' } },
      { tokens: { id_token: 'not-a-jwt', access_token: 'a', refresh_token: 'r' } },
      '{"OPENAI_API_KEY": ',
      { claudeAiOauth: { accessToken: 'x' } },
      // The original worker took no flat OAuth form for Codex (issue #9): Claude's stays refused.
      { accessToken: 'sk-ant-oat01-x', refreshToken: 'sk-ant-ort01-x', expiresAt: 1, scopes: ['user:inference'] },
    ]) {
      assert.throws(
        () => codexProvider.parseCredentials(bad),
        (err: unknown) => err instanceof WorkerError && err.code === 'VALIDATION_ERROR' && err.field === 'codingAssistantAuthentication',
        `rejects ${JSON.stringify(bad)}`,
      );
    }
  });

  describe('against the fake Responses API', () => {
    let fake: FakeOpenAI;
    let script: FakeOpenAIScript = [];
    const jobs: Job[] = [];
    const newJob = async (stateDir?: string): Promise<Job> => {
      const job = await makeJob(stateDir);
      jobs.push(job);
      return job;
    };

    before(async () => {
      fake = await startFakeOpenAI((ctx) => (typeof script === 'function' ? script(ctx) : (script[ctx.index] ?? { type: 'text', text: 'Done.' })));
    });
    after(async () => {
      await fake.close();
      for (const job of jobs) await job.root.remove();
    });
    const reset = (next: FakeOpenAIScript): void => {
      fake.requests.length = 0;
      let offset = -1;
      // Indexes restart for each test: the fake counts main requests for its whole life.
      script = Array.isArray(next)
        ? (ctx) => {
            if (offset < 0) offset = ctx.index;
            return next[ctx.index - offset] ?? { type: 'text', text: 'Done.' };
          }
        : next;
    };

    test('runs a shell command that creates a file in the workspace, only talking to the fake', async () => {
      reset([{ type: 'exec', cmd: 'echo hello > created.txt && env > env.txt' }, { type: 'text', text: 'Created it.' }]);
      const job = await newJob();
      const input = runInput(job, fake);
      const result = await codexProvider.run(input);

      assert.equal(await readFile(join(job.cwd, 'created.txt'), 'utf8'), 'hello\n');
      assert.equal(result.error, undefined);
      assert.match(result.agentSessionId ?? '', /^[0-9a-f-]{36}$/);
      assert.deepEqual(result.usage, {
        inputTokens: 2 * (FAKE_USAGE.input_tokens - FAKE_USAGE.cached_input_tokens),
        outputTokens: 2 * FAKE_USAGE.output_tokens,
        cacheReadInputTokens: 2 * FAKE_USAGE.cached_input_tokens,
        cacheCreationInputTokens: 0,
      });

      // Every SDK event reached onMessage unchanged, and each one normalizes to valid items.
      const types = input.messages.map((m) => (m as { type: string }).type);
      assert.equal(types[0], 'thread.started');
      assert.equal(types.at(-1), 'turn.completed');
      assert.ok(input.messages.some((m: any) => m.item?.type === 'command_execution' && m.item.status === 'completed'));
      assert.ok(input.messages.some((m: any) => m.item?.type === 'agent_message' && m.item.text === 'Created it.'));
      for (const m of input.messages) for (const item of codexProvider.normalize!(m)) normalizedItemSchema.parse(item);
      const warnings = input.messages.filter((m: any) => m.item?.type === 'error').map((m: any) => m.item.message as string);
      assert.ok(!warnings.some((w) => /unrecognized|ignored|deprecated/i.test(w)), `config is clean: ${warnings.join(' | ')}`);

      // Nothing but the model endpoint: no CONNECT through the proxy (plugins, analytics, updates).
      assertOnlyFakeTraffic(fake);
      // The key is neither in the agent's command environment nor in saved state.
      const env = await readFile(join(job.cwd, 'env.txt'), 'utf8');
      assert.ok(!env.includes(API_KEY), 'API key not in the agent shell environment');
      assert.ok((await filesUnder(join(job.stateDir, 'codex', 'sessions'))).some((f) => f.endsWith('.jsonl')), 'rollout saved');
      assert.equal(await anyFileContains(job.stateDir, API_KEY), undefined);
      assert.ok(!existsSync(join(job.stateDir, 'codex', 'auth.json')));
    });

    test('resumes the thread in a fresh home with a different workspace path', async () => {
      reset([{ type: 'text', text: 'First answer: ALPHA-7.' }, { type: 'text', text: 'Second answer.' }]);
      const first = await newJob();
      const r1 = await codexProvider.run(runInput(first, fake, { prompt: 'Remember the word ALPHA-7.' }));
      assert.equal(r1.error, undefined);
      assert.ok(r1.agentSessionId);

      // Another worker: new temp root (so a different cwd path), the state folder carried over.
      const second = await newJob(first.stateDir);
      assert.notEqual(second.cwd, first.cwd);
      const input = runInput(second, fake, { prompt: 'What was the word?', resumeAgentSessionId: r1.agentSessionId });
      const r2 = await codexProvider.run(input);
      assert.equal(r2.error, undefined);
      assert.equal(r2.agentSessionId, r1.agentSessionId);

      const [req1, req2] = fake.mainRequests();
      assert.ok(req1 && req2);
      const text = inputText(req2);
      assert.ok(text.includes('Remember the word ALPHA-7.'), 'second request carries the first prompt');
      assert.ok(text.includes('First answer: ALPHA-7.'), 'second request carries the first answer');
      assert.ok(text.includes('What was the word?'));
      // Usage is per run, not the thread's running total.
      assert.equal(r2.usage?.inputTokens, FAKE_USAGE.input_tokens - FAKE_USAGE.cached_input_tokens);
      assertOnlyFakeTraffic(fake);
    });

    test('ChatGPT-token auth.json: tokens reach the endpoint, nothing reaches chatgpt.com', async () => {
      reset([{ type: 'text', text: 'Hi.' }]);
      const job = await newJob();
      const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      const jwt = (payload: unknown): string => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.sig`;
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const accessToken = jwt({ exp, sub: 'user-1' });
      const authJson = {
        OPENAI_API_KEY: null,
        tokens: {
          id_token: jwt({ exp, email: 'dev@example.com', 'https://api.openai.com/auth': { chatgpt_plan_type: 'pro', chatgpt_account_id: 'acct_1' } }),
          access_token: accessToken,
          refresh_token: 'rt-secret-refresh-token-1',
          account_id: 'acct_1',
        },
        last_refresh: new Date().toISOString(),
      };
      const credentials = codexProvider.parseCredentials(authJson);
      const result = await codexProvider.run(runInput(job, fake, { credentials }));
      assert.equal(result.error, undefined);
      assertOnlyFakeTraffic(fake, accessToken);
      assert.equal(fake.mainRequests()[0]!.headers['chatgpt-account-id'], 'acct_1');
      for (const secret of credentials.secrets) assert.equal(await anyFileContains(job.stateDir, secret), undefined);
    });

    test('passes images as local files', async () => {
      reset([{ type: 'text', text: 'A tiny image.' }]);
      const job = await newJob();
      const prompt = [
        { type: 'text' as const, text: 'Describe this.' },
        { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: PNG_1PX } },
      ];
      const result = await codexProvider.run(runInput(job, fake, { prompt }));
      assert.equal(result.error, undefined);
      const images = inputImages(fake.mainRequests()[0]!);
      assert.equal(images.length, 1);
      assert.match(images[0]!.image_url, /^data:image\/png;base64,/);
    });

    test('a stream error that a retry recovers from is not a failure', async () => {
      reset([{ type: 'failed', message: 'overloaded for a moment' }, { type: 'text', text: 'Recovered.' }]);
      const job = await newJob();
      const input = runInput(job, fake);
      const result = await codexProvider.run(input);
      assert.equal(result.error, undefined);
      const retries = input.messages.filter((m: any) => m.type === 'error');
      assert.ok(retries.length >= 1, 'the retry notice is reported');
      assert.deepEqual(
        retries.flatMap((m) => codexProvider.normalize!(m)).map((i) => i.kind === 'error' && i.fatal),
        retries.map(() => false),
      );
    });

    test('a model error ends the run quickly with an error', async () => {
      reset(() => ({ type: 'error', status: 400, message: 'The model `nope` does not exist.' }));
      const job = await newJob();
      const started = Date.now();
      let result: ProviderRunResult | undefined;
      let thrown: unknown;
      try {
        result = await codexProvider.run(runInput(job, fake, { options: { model: 'nope' } }));
      } catch (err) {
        thrown = err;
      }
      assert.ok(Date.now() - started < 30_000, 'fails fast');
      const message = result?.error ?? (thrown instanceof Error ? thrown.message : '');
      assert.match(message, /does not exist|400/);
      assert.ok(!message.includes(API_KEY));
    });

    // Without the sandbox, commands run in their own session and survive codex's exit: the
    // provider has to find them (by the CODEX_HOME marker) and stop them itself.
    for (const sandboxMode of ['workspace-write', 'danger-full-access']) {
      test(`abort stops codex and every command it started, promptly; the key is never in argv (${sandboxMode})`, async () => {
        reset([{ type: 'exec', cmd: 'sleep 301 & sleep 300' }]);
        const job = await newJob();
        const codexHome = join(job.homeDir, '.codex');
        const controller = new AbortController();
        const input = runInput(job, fake, { signal: controller.signal, options: { sandboxMode } });
        const running = codexProvider.run(input);

        // Wait for the agent's command to be running.
        let pids: number[] = [];
        for (let i = 0; i < 300 && (await commands(pids)).filter((c) => /^sleep 30[01]/.test(c)).length < 2; i++) {
          await new Promise((r) => setTimeout(r, 100));
          pids = await findMarkedProcesses('CODEX_HOME', codexHome);
        }
        const cmdlines = await commands(pids);
        assert.ok(cmdlines.some((c) => c.includes('sleep 300')), `sleep is running: ${cmdlines.join(' | ')}`);
        assert.equal(pids.filter((_, i) => /^sleep 30[01]/.test(cmdlines[i] ?? '')).length, 2);
        const codexCmd = cmdlines.find((c) => c.includes('exec') && c.includes('--experimental-json'));
        assert.ok(codexCmd, 'the codex child is found');
        for (const c of cmdlines) assert.ok(!c.includes(API_KEY), 'API key not in any argv');
        for (const pid of pids) {
          const environ = await readFile(`/proc/${pid}/environ`).catch(() => Buffer.alloc(0));
          assert.ok(!environ.includes(API_KEY), 'API key not in any process environment');
        }

        const abortedAt = Date.now();
        controller.abort();
        const result = await running;
        assert.ok(Date.now() - abortedAt < 5_000, `abort is prompt (${Date.now() - abortedAt} ms)`);
        assert.match(result.error ?? '', /aborted/);
        assert.deepEqual(await findMarkedProcesses('CODEX_HOME', codexHome), []);
        for (const pid of pids) assert.ok(!existsSync(`/proc/${pid}/cmdline`) || (await isZombie(pid)), `process ${pid} is gone`);
        assert.equal(await anyFileContains(job.stateDir, API_KEY), undefined);
      });
    }
  });
});

async function commands(pids: number[]): Promise<string[]> {
  const out: string[] = [];
  for (const pid of pids) {
    const raw = await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0));
    out.push(raw.toString('utf8').split('\0').join(' ').trim());
  }
  return out;
}

async function isZombie(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}
