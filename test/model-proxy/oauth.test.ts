/**
 * Claude OAuth logins through the model proxy: refreshed before they expire and after the
 * upstream refuses them, once for concurrent calls, and a failed refresh ends the job's access.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { pino } from 'pino';
import { ModelProxy } from '../../src/model-proxy/model-proxy.js';
import type { ProxyGrant, ProxyJobOptions } from '../../src/model-proxy/types.js';
import type { ClaudeOauth } from '../../src/providers/claude-credentials.js';
import { listenOnLoopback, readBody } from '../fixtures/loopback.js';

const OLD: ClaudeOauth = { accessToken: 'sk-ant-oat01-old-access', refreshToken: 'sk-ant-ort01-old-refresh', scopes: ['user:inference'] };
const NEW: ClaudeOauth = {
  accessToken: 'sk-ant-oat01-new-access',
  refreshToken: 'sk-ant-ort01-new-refresh',
  expiresAt: Date.now() + 8 * 3600_000,
  scopes: ['user:inference'],
};
const UPSTREAM_401 = { type: 'error', error: { type: 'authentication_error', message: 'OAuth token has expired.' } };

interface SeenCall {
  bearer: string | undefined;
  beta: string | undefined;
  body: string;
}

/** A Messages API that takes only `valid` as a bearer and answers 401 to anything else. */
async function startOauthUpstream(valid: () => string) {
  const seen: SeenCall[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const bearer = req.headers.authorization?.replace(/^Bearer /, '');
      seen.push({ bearer, beta: req.headers['anthropic-beta'] as string | undefined, body });
      const ok = bearer === valid();
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { id: 'msg', model: 'claude-x', usage: { input_tokens: 3, output_tokens: 1 } } : UPSTREAM_401));
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, seen, close, [Symbol.asyncDispose]: close };
}

async function startProxy(anthropic: string) {
  const proxy = await ModelProxy.start({ upstreams: { anthropic, openai: 'http://127.0.0.1:9' }, logger: pino({ level: 'silent' }) });
  return Object.assign(proxy, { [Symbol.asyncDispose]: () => proxy.close() });
}

/** A job with an OAuth login and a recording refresh that waits `delayMs`, then returns NEW or throws. */
function oauthJob(oauth: ClaudeOauth, options: { delayMs?: number; fail?: string } = {}) {
  const record = { refreshes: [] as ClaudeOauth[], updated: [] as ClaudeOauth[], failures: [] as string[], signals: [] as AbortSignal[] };
  const job: ProxyJobOptions = {
    sessionId: 'session-oauth',
    credential: { api: 'anthropic', kind: 'oauth', oauth },
    refresh: async (current, signal) => {
      record.refreshes.push(current);
      record.signals.push(signal);
      await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 0));
      if (options.fail) throw new Error(options.fail);
      return NEW;
    },
    onCredentialsUpdated: (next) => record.updated.push(next),
    onAuthFailure: (message) => record.failures.push(message),
  };
  return { job, record };
}

async function call(grant: ProxyGrant, body = '{"model":"claude-x","max_tokens":5,"messages":[]}'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${grant.baseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': grant.token, 'content-type': 'application/json', 'anthropic-beta': 'claude-code-20250219' },
    body,
  });
  return { status: res.status, body: await res.json() };
}

describe('model proxy: OAuth refresh', () => {
  test('an expiring login is refreshed before the call', async () => {
    await using upstream = await startOauthUpstream(() => NEW.accessToken);
    await using proxy = await startProxy(upstream.url);
    // Not yet expired, but within the minute's margin.
    const { job, record } = oauthJob({ ...OLD, expiresAt: Date.now() + 30_000 });
    const grant = proxy.open(job);

    assert.equal((await call(grant)).status, 200);
    assert.equal((await call(grant)).status, 200);
    assert.deepEqual(upstream.seen.map((s) => s.bearer), [NEW.accessToken, NEW.accessToken]);
    assert.equal(upstream.seen[0]?.beta, 'claude-code-20250219,oauth-2025-04-20');
    assert.equal(record.refreshes.length, 1);
    assert.equal(record.refreshes[0]?.refreshToken, OLD.refreshToken);
    assert.equal(record.signals[0]?.aborted, false);
    assert.deepEqual(record.updated, [NEW]);
    assert.deepEqual(record.failures, []);
    assert.equal(grant.usage().calls, 2);
  });

  test('a 401 is followed by a refresh and the same request again with the new token', async () => {
    await using upstream = await startOauthUpstream(() => NEW.accessToken);
    await using proxy = await startProxy(upstream.url);
    const { job, record } = oauthJob({ ...OLD, expiresAt: Date.now() + 3600_000 });
    const grant = proxy.open(job);

    const body = JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'ünïcode' }] });
    const res = await call(grant, body);
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 'msg');
    assert.deepEqual(upstream.seen.map((s) => s.bearer), [OLD.accessToken, NEW.accessToken]);
    assert.deepEqual(upstream.seen.map((s) => s.body), [body, body]);
    assert.deepEqual(upstream.seen.map((s) => s.beta), ['claude-code-20250219,oauth-2025-04-20', 'claude-code-20250219,oauth-2025-04-20']);
    assert.deepEqual(record.updated, [NEW]);
    assert.equal(grant.usage().calls, 1);
  });

  test('concurrent calls share one refresh, before the call and after 401s', async () => {
    for (const expiresAt of [Date.now() - 1000, Date.now() + 3600_000]) {
      await using upstream = await startOauthUpstream(() => NEW.accessToken);
      await using proxy = await startProxy(upstream.url);
      const { job, record } = oauthJob({ ...OLD, expiresAt }, { delayMs: 150 });
      const grant = proxy.open(job);
      const results = await Promise.all(Array.from({ length: 6 }, () => call(grant)));
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
      assert.equal(record.refreshes.length, 1, `expiresAt ${expiresAt}`);
      assert.equal(record.updated.length, 1);
      assert.equal(upstream.seen.filter((s) => s.bearer === NEW.accessToken).length, 6);
      assert.equal(grant.usage().calls, 6);
    }
  });

  test('a failing refresh: onAuthFailure once, 401 to the agent, and no more calls upstream', async () => {
    await using upstream = await startOauthUpstream(() => NEW.accessToken);
    await using proxy = await startProxy(upstream.url);
    const { job, record } = oauthJob({ ...OLD, expiresAt: Date.now() - 1 }, { fail: 'invalid_grant: refresh token revoked' });
    const grant = proxy.open(job);

    const results = await Promise.all([call(grant), call(grant)]);
    for (const res of results) {
      assert.equal(res.status, 401);
      assert.equal(res.body.type, 'error');
      assert.equal(res.body.error.type, 'authentication_error');
      assert.match(res.body.error.message, /invalid_grant: refresh token revoked/);
    }
    const later = await call(grant);
    assert.equal(later.status, 401);
    assert.deepEqual(record.failures, ['invalid_grant: refresh token revoked']);
    assert.equal(record.refreshes.length, 1);
    assert.deepEqual(record.updated, []);
    assert.equal(upstream.seen.length, 0);
  });

  test('a failing refresh after a 401 answers 401 with its message', async () => {
    await using upstream = await startOauthUpstream(() => NEW.accessToken);
    await using proxy = await startProxy(upstream.url);
    const { job, record } = oauthJob(OLD, { fail: 'network down' });
    const grant = proxy.open(job);
    const res = await call(grant);
    assert.equal(res.status, 401);
    assert.match(res.body.error.message, /network down/);
    assert.deepEqual(record.failures, ['network down']);
    assert.deepEqual(upstream.seen.map((s) => s.bearer), [OLD.accessToken]);
  });

  test('a second 401 after the refresh is the upstream\'s answer: passed through, no second refresh', async () => {
    await using upstream = await startOauthUpstream(() => 'accepts-nothing');
    await using proxy = await startProxy(upstream.url);
    const { job, record } = oauthJob(OLD);
    const grant = proxy.open(job);
    const res = await call(grant);
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, UPSTREAM_401);
    assert.deepEqual(upstream.seen.map((s) => s.bearer), [OLD.accessToken, NEW.accessToken]);
    assert.equal(record.refreshes.length, 1);
    assert.deepEqual(record.failures, []);
  });

  test('without a refresh function, or with an API key, a 401 passes through unchanged', async () => {
    await using upstream = await startOauthUpstream(() => 'accepts-nothing');
    await using proxy = await startProxy(upstream.url);
    const oauthOnly = proxy.open({ sessionId: 's1', credential: { api: 'anthropic', kind: 'oauth', oauth: { ...OLD, expiresAt: Date.now() - 1 } } });
    const { job, record } = oauthJob(OLD);
    const apiKey = proxy.open({ ...job, credential: { api: 'anthropic', kind: 'apiKey', apiKey: 'sk-ant-api03-some-key' } });
    for (const grant of [oauthOnly, apiKey]) {
      const res = await call(grant);
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, UPSTREAM_401);
    }
    assert.equal(upstream.seen.length, 2);
    assert.equal(record.refreshes.length, 0);
  });
});
