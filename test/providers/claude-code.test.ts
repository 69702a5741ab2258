/**
 * Runs the real `claude` binary (through the provider) against the scripted fake Anthropic API.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claudeCodeProvider, projectDirName } from '../../src/providers/claude-code.js';
import type { ProviderRunInput, ProviderRunResult } from '../../src/providers/types.js';
import { WorkerError } from '../../src/errors/worker-error.js';
import { giveToAgent, testAgentUser } from '../fixtures/agent-user.js';
import { imageBlocks, messagesText, startFakeAnthropic, type FakeAnthropic } from '../fixtures/fake-anthropic.js';

const API_KEY = 'sk-ant-api03-test-key-0123456789';
const OAUTH = {
  claudeAiOauth: {
    accessToken: 'sk-ant-oat01-test-access-token-abcdef',
    refreshToken: 'sk-ant-ort01-test-refresh-token-ghijkl',
    expiresAt: Date.now() + 24 * 3600_000,
    scopes: ['user:inference', 'user:profile'],
    subscriptionType: 'max',
  },
};
// 1x1 transparent PNG.
const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

interface Dirs {
  root: string;
  home: string;
  cwd: string;
  state: string;
}

async function makeDirs(label = 'ws'): Promise<Dirs> {
  const root = await mkdtemp(join(tmpdir(), 'claude-provider-'));
  roots.push(root);
  const home = join(root, 'home');
  const cwd = join(root, label);
  const state = join(root, 'state');
  await mkdir(home, { mode: 0o700 });
  await mkdir(cwd, { recursive: true });
  await mkdir(state);
  await giveToAgent(await testAgentUser(), root, cwd);
  return { root, home, cwd, state };
}

interface Outcome {
  result?: ProviderRunResult;
  error?: unknown;
  messages: any[];
  ms: number;
}

/** Runs the provider once against `fake` in `dirs`; never throws (the error is returned). */
async function runAgent(
  dirs: Dirs,
  fake: FakeAnthropic,
  overrides: Partial<Omit<ProviderRunInput, 'credentials'>> & { auth?: unknown } = {},
): Promise<Outcome> {
  const { auth, ...rest } = overrides;
  const messages: any[] = [];
  const started = Date.now();
  try {
    const result = await claudeCodeProvider.run({
      prompt: 'Do the thing.',
      cwd: dirs.cwd,
      homeDir: dirs.home,
      stateDir: dirs.state,
      credentials: claudeCodeProvider.parseCredentials(auth ?? API_KEY),
      options: { maxRetries: 0 },
      env: { ANTHROPIC_BASE_URL: fake.url },
      agentUser: await testAgentUser(),
      signal: new AbortController().signal,
      onMessage: (m) => messages.push(m),
      ...rest,
    });
    return { result, messages, ms: Date.now() - started };
  } catch (error) {
    return { error, messages, ms: Date.now() - started };
  }
}

/** Processes whose environment names this job's private home: the CLI and anything it started. */
async function agentPids(home: string): Promise<number[]> {
  const marker = `CLAUDE_CONFIG_DIR=${join(home, '.claude')}`;
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // Process ended or is not ours to read.
    }
  }
  return pids;
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('claude-code provider (real binary, fake API)', () => {
  test('creates a file through a Write tool call and reports usage', async () => {
    const dirs = await makeDirs();
    await using fake = await startFakeAnthropic([
      { type: 'tool_use', name: 'Write', input: { file_path: join(dirs.cwd, 'hello.txt'), content: 'hello from the fake\n' } },
      { type: 'text', text: 'Created hello.txt.' },
    ]);
    const out = await runAgent(dirs, fake);
    assert.equal(out.error, undefined, String(out.error));
    assert.equal(out.result?.error, undefined);
    assert.match(out.result?.agentSessionId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(await readFile(join(dirs.cwd, 'hello.txt'), 'utf8'), 'hello from the fake\n');
    assert.ok((out.result?.usage?.inputTokens ?? 0) > 0);
    assert.ok((out.result?.usage?.outputTokens ?? 0) > 0);
    assert.equal(out.messages.at(-1)?.type, 'result');
    const first = fake.mainRequests()[0];
    assert.equal(first?.auth.apiKey, API_KEY);
    assert.equal(first?.auth.bearer, undefined);
    // The Write tool's result went back to the model in the second turn.
    assert.match(messagesText(fake.mainRequests()[1]!), /hello\.txt/);
  });

  test('resumes in a fresh home from a different cwd path, with OAuth kept out of the state', async () => {
    const first = await makeDirs('workspace-one');
    await using fake = await startFakeAnthropic(({ index }) =>
      index === 0 ? { type: 'text', text: 'The secret word is PAPAYA.' } : { type: 'text', text: 'You told me PAPAYA.' },
    );
    const one = await runAgent(first, fake, { auth: OAUTH, prompt: 'Remember the word PAPAYA.' });
    assert.equal(one.error, undefined, String(one.error));
    assert.equal(one.result?.error, undefined);
    const sessionId = one.result?.agentSessionId;
    assert.ok(sessionId);
    assert.equal(fake.mainRequests()[0]?.auth.bearer, OAUTH.claudeAiOauth.accessToken);
    assert.equal(fake.mainRequests()[0]?.auth.apiKey, undefined);
    assert.ok((await stat(join(first.home, '.claude', '.credentials.json'))).isFile());

    // Another worker: new home, a workspace at another absolute path (long enough for the
    // binary to hash its project folder name), the same saved state.
    const second = await makeDirs(`a-different-workspace/${'deep-'.repeat(45)}`);
    await rm(second.state, { recursive: true });
    second.state = first.state;
    const two = await runAgent(second, fake, { auth: OAUTH, prompt: 'Which word?', resumeAgentSessionId: sessionId });
    assert.equal(two.error, undefined, String(two.error));
    assert.equal(two.result?.error, undefined, two.result?.error);
    assert.equal(two.result?.agentSessionId, sessionId);
    const resumed = fake.mainRequests()[1];
    assert.ok(resumed);
    const text = messagesText(resumed);
    assert.match(text, /Remember the word PAPAYA/);
    assert.match(text, /The secret word is PAPAYA/);
    assert.match(text, /Which word\?/);

    for (const file of await allFiles(first.state)) {
      assert.ok(!file.endsWith('.credentials.json'), `credentials file in state: ${file}`);
      const content = await readFile(file, 'utf8');
      for (const secret of [OAUTH.claudeAiOauth.accessToken, OAUTH.claudeAiOauth.refreshToken]) {
        assert.ok(!content.includes(secret), `secret in ${file}`);
      }
    }
  });

  test('image blocks reach the model', async () => {
    const dirs = await makeDirs();
    await using fake = await startFakeAnthropic([{ type: 'text', text: 'A tiny transparent square.' }]);
    const out = await runAgent(dirs, fake, {
      prompt: [
        { type: 'text', text: 'What is in this image?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } },
      ],
    });
    assert.equal(out.error, undefined, String(out.error));
    assert.equal(out.result?.error, undefined);
    const first = fake.mainRequests()[0];
    assert.ok(first);
    const images = imageBlocks(first);
    assert.equal(images.length, 1);
    assert.equal(images[0]?.source.media_type, 'image/png');
    assert.equal(images[0]?.source.data, PNG_1X1);
    assert.match(messagesText(first), /What is in this image\?/);
  });

  for (const status of [500, 401]) {
    test(`a model API error (${status}) ends quickly as an error`, async () => {
      const dirs = await makeDirs();
      await using fake = await startFakeAnthropic(() => ({ type: 'error', status, message: `fake failure ${status}` }));
      const out = await runAgent(dirs, fake);
      assert.ok(out.ms < 30_000, `took ${out.ms} ms`);
      const message = out.error instanceof Error ? out.error.message : out.result?.error;
      assert.ok(message, 'expected an error result or a thrown error');
      assert.ok(!message.includes(API_KEY));
    });
  }

  test('abort kills the whole process tree promptly and secrets never reach argv', async () => {
    const dirs = await makeDirs();
    await using fake = await startFakeAnthropic([
      // The Bash tool refuses a bare long `sleep`; `tail -f` runs until killed.
      { type: 'tool_use', name: 'Bash', input: { command: 'tail -f /dev/null', description: 'wait' } },
      { type: 'text', text: 'never', delayMs: 60_000 },
    ]);
    const controller = new AbortController();
    const running = runAgent(dirs, fake, { signal: controller.signal });

    // Wait until the agent's shell runs `tail -f`: the CLI and a grandchild are alive.
    const pids = await waitFor(async () => {
      const found = await agentPids(dirs.home);
      const cmdlines = await Promise.all(found.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
      return cmdlines.some((c) => c.startsWith('tail\u0000-f\u0000/dev/null')) ? found : undefined;
    }, 30_000);
    assert.ok(pids.length >= 2, `expected the CLI and its shell, got ${pids.join(',')}`);
    for (const pid of pids) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      assert.ok(!cmdline.includes(API_KEY), `API key in argv of ${pid}`);
    }

    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    const took = Date.now() - abortedAt;
    assert.ok(took < 8_000, `abort took ${took} ms`);
    assert.ok(out.error !== undefined || out.result?.error !== undefined, 'an aborted run must not look successful');
    const left = await waitFor(async () => ((await agentPids(dirs.home)).length === 0 ? [] : undefined), 3_000).catch(
      async () => agentPids(dirs.home),
    );
    assert.deepEqual(left, [], `processes left after abort: ${left.join(',')}`);
  });

  test('secrets stay out of argv and worker secrets out of the agent env', async () => {
    const dirs = await makeDirs();
    await using fake = await startFakeAnthropic([{ type: 'text', text: 'slow', delayMs: 2_000 }]);
    // Planted for the whole run: the provider must build the agent env, not inherit it.
    const planted = ['WORKER_API_TOKEN', 'GITHUB_ACCESS_TOKEN', 'CODING_ASSISTANT_AUTHENTICATION', 'ANTHROPIC_API_KEY'];
    const saved = planted.map((name) => [name, process.env[name]] as const);
    for (const name of planted) process.env[name] = `planted-${name}`;
    try {
      const running = runAgent(dirs, fake, { auth: OAUTH });
      await fake.waitForMainRequest(1, 30_000);
      const pids = await agentPids(dirs.home);
      assert.ok(pids.length >= 1);
      for (const pid of pids) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        assert.ok(!cmdline.includes(OAUTH.claudeAiOauth.accessToken));
        assert.ok(!cmdline.includes('planted-'));
        const environ = (await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')).split('\0');
        for (const name of planted) assert.ok(!environ.some((kv) => kv.startsWith(`${name}=`)), `${name} leaked into the agent env`);
      }
      const out = await running;
      assert.equal(out.error, undefined, String(out.error));
      assert.equal(out.result?.error, undefined);
      assert.equal(fake.mainRequests()[0]?.auth.bearer, OAUTH.claudeAiOauth.accessToken);
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('claude-code parseCredentials', () => {
  /** The original worker's clients send the OAuth object without its wrapper (issue #9). */
  const FLAT = { ...OAUTH.claudeAiOauth, rateLimitTier: 'default_claude_max_20x' };
  const accept: Array<[string, unknown, string[]]> = [
    ['OAuth object', OAUTH, [OAUTH.claudeAiOauth.accessToken, OAUTH.claudeAiOauth.refreshToken]],
    ['OAuth JSON string', JSON.stringify(OAUTH), [OAUTH.claudeAiOauth.accessToken, OAUTH.claudeAiOauth.refreshToken]],
    ['flat OAuth object', FLAT, [FLAT.accessToken, FLAT.refreshToken]],
    ['flat OAuth JSON string', JSON.stringify(FLAT), [FLAT.accessToken, FLAT.refreshToken]],
    ['flat OAuth with only an access token', { accessToken: 'tok' }, ['tok']],
    ['OAuth with only an access token', { claudeAiOauth: { accessToken: 'tok' } }, ['tok']],
    ['API key string', API_KEY, [API_KEY]],
    ['other non-JSON string', 'some-gateway-key', ['some-gateway-key']],
    ['{apiKey}', { apiKey: API_KEY }, [API_KEY]],
    ['{apiKey} as JSON string', JSON.stringify({ apiKey: API_KEY }), [API_KEY]],
  ];
  for (const [name, raw, secrets] of accept) {
    test(`accepts ${name}`, () => {
      assert.deepEqual(claudeCodeProvider.parseCredentials(raw).secrets, secrets);
    });
  }

  test('wraps the flat form as claudeAiOauth, keeping every field', () => {
    for (const raw of [FLAT, JSON.stringify(FLAT)]) {
      assert.deepEqual(claudeCodeProvider.parseCredentials(raw).value, { kind: 'oauth', oauth: FLAT });
    }
  });

  test('gives an OAuth login without scopes the one the binary needs (user:inference), and keeps given scopes', () => {
    const { scopes: _scopes, ...withoutScopes } = OAUTH.claudeAiOauth;
    for (const raw of [{ claudeAiOauth: withoutScopes }, withoutScopes, JSON.stringify(withoutScopes)]) {
      const value = claudeCodeProvider.parseCredentials(raw).value as { oauth: { scopes: string[] } };
      assert.deepEqual(value.oauth.scopes, ['user:inference'], JSON.stringify(raw));
    }
    const given = claudeCodeProvider.parseCredentials({ accessToken: 'tok', scopes: ['user:profile'] }).value as { oauth: { scopes: string[] } };
    assert.deepEqual(given.oauth.scopes, ['user:profile']);
  });

  const reject: Array<[string, unknown]> = [
    ['empty string', ''],
    ['blank string', '   '],
    ['malformed JSON', '{"claudeAiOauth": {'],
    ['claudeAiOauth without accessToken', { claudeAiOauth: { refreshToken: 'x' } }],
    ['empty accessToken', { claudeAiOauth: { accessToken: '' } }],
    ['non-string accessToken', { claudeAiOauth: { accessToken: 42 } }],
    ['claudeAiOauth not an object', { claudeAiOauth: 'tok' }],
    ['number', 42],
    ['array', ['sk-ant-x']],
    ['null', null],
    ['undefined', undefined],
    ['unknown object', { token: 'x' }],
    ['empty apiKey', { apiKey: '' }],
    ['JSON number string', '42'],
    ['flat OAuth with an empty accessToken', { accessToken: '', refreshToken: 'r' }],
    ['flat OAuth with a non-numeric expiresAt', { accessToken: 'tok', expiresAt: 'tomorrow' }],
    ['flat OAuth with scopes not a list', { accessToken: 'tok', scopes: 'user:inference' }],
    ['flat OAuth with a non-string refreshToken', { accessToken: 'tok', refreshToken: 7 }],
  ];
  for (const [name, raw] of reject) {
    test(`rejects ${name}`, () => {
      assert.throws(
        () => claudeCodeProvider.parseCredentials(raw),
        (err: unknown) => err instanceof WorkerError && err.code === 'VALIDATION_ERROR' && err.field === 'codingAssistantAuthentication',
      );
    });
  }
});

test('project folder names follow the binary', () => {
  assert.equal(projectDirName('/tmp/a_b.c/ws'), '-tmp-a-b-c-ws');
  const long = `/${'x'.repeat(250)}`;
  assert.match(projectDirName(long), /^-x{199}-[0-9a-z]+$/);
});
