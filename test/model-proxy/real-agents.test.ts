/**
 * The real `claude` and `codex` binaries, holding only a job token, work through the model
 * proxy against the fake APIs: the allowlist lets through all they need, the fakes see only the
 * user's real credential, and nothing the agents asked for was refused.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { ModelProxy } from '../../src/model-proxy/model-proxy.js';
import { QUIET_ENV } from '../../src/providers/claude-code.js';
import { buildConfigToml } from '../../src/providers/codex.js';
import type { UpstreamCredential } from '../../src/model-proxy/types.js';
import { startFakeAnthropic, type RecordedRequest } from '../fixtures/fake-anthropic.js';
import { FAKE_USAGE, startFakeOpenAI } from '../fixtures/fake-openai.js';
import { makeTempDir } from '../fixtures/temp.js';

const ANTHROPIC_KEY = 'sk-ant-api03-real-agent-key-0123456789';
const OPENAI_KEY = 'sk-proj-real-agent-key-0123456789';
const OAUTH = { accessToken: 'sk-ant-oat01-real-agent-access', refreshToken: 'sk-ant-ort01-real-agent-refresh', expiresAt: Date.now() + 3600_000, scopes: ['user:inference'] };

interface LogLine {
  msg: string;
  method?: string;
  path?: string;
  status?: number;
}

/** A proxy whose debug log is kept: every call it forwarded or refused. */
async function startLoggedProxy(upstreams: { anthropic: string; openai: string }) {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const proxy = await ModelProxy.start({ upstreams, logger: pino({ level: 'debug' }, sink) });
  const forwarded = () => lines.filter((l) => l.msg === 'model call').map((l) => `${l.method} ${l.path} ${l.status}`);
  const refused = () => lines.filter((l) => l.msg.startsWith('model proxy: ')).map((l) => `${l.msg} ${l.method ?? ''} ${l.path ?? ''}`);
  return Object.assign(proxy, { forwarded, refused, [Symbol.asyncDispose]: () => proxy.close() });
}

describe('model proxy: the real agents', () => {
  const claudeLogins: Array<[string, UpstreamCredential, RecordedRequest['auth'], RegExp]> = [
    ['an API key', { api: 'anthropic', kind: 'apiKey', apiKey: ANTHROPIC_KEY }, { apiKey: ANTHROPIC_KEY, bearer: undefined }, /^(?!.*oauth-2025-04-20)/],
    ['an OAuth login', { api: 'anthropic', kind: 'oauth', oauth: OAUTH }, { apiKey: undefined, bearer: OAUTH.accessToken }, /claude-code-20250219.*oauth-2025-04-20/],
  ];
  for (const [label, credential, upstreamAuth, betas] of claudeLogins) {
    test(`claude, with a job token as its API key, works through the proxy (user's ${label})`, async () => {
      await using dir = await makeTempDir('acw-proxy-claude');
      const cwd = join(dir.path, 'workspace');
      const home = join(dir.path, 'home');
      await mkdir(cwd);
      await mkdir(home, { mode: 0o700 });
      await using fake = await startFakeAnthropic([
        { type: 'tool_use', name: 'Write', input: { file_path: join(cwd, 'hello.txt'), content: 'through the proxy\n' } },
        { type: 'text', text: 'Created hello.txt.' },
      ]);
      await using proxy = await startLoggedProxy({ anthropic: fake.url, openai: 'http://127.0.0.1:9' });
      const grant = proxy.open({ sessionId: 'claude-session', credential });

      const { query } = await import('@anthropic-ai/claude-agent-sdk');
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        CLAUDE_CONFIG_DIR: join(home, '.claude'),
        ...QUIET_ENV,
        ANTHROPIC_BASE_URL: grant.baseUrl,
        ANTHROPIC_API_KEY: grant.token,
        CLAUDE_CODE_MAX_RETRIES: '0',
      };
      let result: any;
      for await (const message of query({ prompt: 'Create hello.txt.', options: { cwd, env, permissionMode: 'acceptEdits', settingSources: [] } })) {
        if (message.type === 'result') result = message;
      }
      assert.equal(result?.subtype, 'success', JSON.stringify(result));
      assert.equal(result?.is_error, false, result?.result);
      assert.equal(await readFile(join(cwd, 'hello.txt'), 'utf8'), 'through the proxy\n');

      assert.deepEqual(proxy.refused(), []);
      assert.deepEqual(fake.requests.filter((r) => r.kind === 'other').map((r) => `${r.method} ${r.path}`), []);
      assert.ok(fake.mainRequests().length >= 2);
      for (const r of fake.requests) {
        assert.deepEqual(r.auth, upstreamAuth);
        assert.match(r.anthropicBeta ?? '', betas);
      }
      assert.ok(!JSON.stringify(fake.requests).includes(grant.token));
      // What the binary calls, as forwarded (the allowlist's evidence, src/model-proxy/routes.ts).
      assert.ok(proxy.forwarded().every((line) => /^POST \/v1\/messages 200$/.test(line)), proxy.forwarded().join('\n'));
      const usage = grant.usage();
      assert.equal(usage.calls, fake.requests.length);
      assert.equal(usage.inputTokens, 50 * fake.requests.length);
      assert.equal(usage.outputTokens, 10 * fake.requests.length);
    });
  }

  test('codex, with a job token in auth.json, works through the proxy', async () => {
    await using dir = await makeTempDir('acw-proxy-codex');
    const cwd = join(dir.path, 'workspace');
    const home = join(dir.path, 'home');
    const codexHome = join(home, '.codex');
    await mkdir(cwd);
    await mkdir(codexHome, { recursive: true, mode: 0o700 });
    await using fake = await startFakeOpenAI([{ type: 'exec', cmd: 'echo through the proxy > hello.txt' }, { type: 'text', text: 'Done.' }]);
    await using proxy = await startLoggedProxy({ anthropic: 'http://127.0.0.1:9', openai: fake.url });
    const grant = proxy.open({ sessionId: 'codex-session', credential: { api: 'openai', kind: 'apiKey', apiKey: OPENAI_KEY } });

    // As the Codex provider sets it up: a model provider at the base URL, the key in auth.json.
    await writeFile(join(codexHome, 'config.toml'), buildConfigToml(grant.baseUrl), { mode: 0o600 });
    await writeFile(join(codexHome, 'auth.json'), JSON.stringify({ OPENAI_API_KEY: grant.token }), { mode: 0o600 });
    const { Codex } = await import('@openai/codex-sdk');
    // The fake is also the HTTP(S) proxy: any attempt to reach another host is recorded there.
    const codex = new Codex({
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        CODEX_HOME: codexHome,
        HTTPS_PROXY: fake.proxyUrl,
        HTTP_PROXY: fake.proxyUrl,
        ALL_PROXY: fake.proxyUrl,
        NO_PROXY: '127.0.0.1,localhost',
      },
    });
    const thread = codex.startThread({ workingDirectory: cwd, skipGitRepoCheck: true, sandboxMode: 'danger-full-access', approvalPolicy: 'never' });
    const { events } = await thread.runStreamed('Create hello.txt.');
    const types: string[] = [];
    for await (const event of events) types.push(event.type);
    assert.ok(types.includes('turn.completed'), types.join(','));
    assert.equal(await readFile(join(cwd, 'hello.txt'), 'utf8'), 'through the proxy\n');

    assert.deepEqual(proxy.refused(), []);
    assert.deepEqual(fake.requests.filter((r) => r.kind === 'other').map((r) => `${r.method} ${r.path}`), []);
    assert.equal(fake.mainRequests().length, 2);
    for (const r of fake.requests) assert.equal(r.auth.bearer, OPENAI_KEY);
    assert.ok(!JSON.stringify(fake.requests).includes(grant.token));
    assert.deepEqual(proxy.forwarded(), ['POST /responses 200', 'POST /responses 200']);
    assert.deepEqual(grant.usage(), {
      calls: 2,
      inputTokens: 2 * (FAKE_USAGE.input_tokens - FAKE_USAGE.cached_input_tokens),
      outputTokens: 2 * FAKE_USAGE.output_tokens,
      cacheReadInputTokens: 2 * FAKE_USAGE.cached_input_tokens,
      cacheCreationInputTokens: 0,
    });
  });
});
