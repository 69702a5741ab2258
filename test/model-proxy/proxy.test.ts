/**
 * The model proxy over real HTTP: job tokens in, real credentials out, only the model API
 * paths. (Streaming: streaming.test.ts; usage: usage.test.ts; OAuth refresh: oauth.test.ts.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { ModelProxy, type ModelProxyOptions } from '../../src/model-proxy/model-proxy.js';
import type { ProxyJobOptions } from '../../src/model-proxy/types.js';
import { startFakeAnthropic } from '../fixtures/fake-anthropic.js';
import { startFakeOpenAI } from '../fixtures/fake-openai.js';
import { listenOnLoopback, readBody } from '../fixtures/loopback.js';

const ANTHROPIC_KEY = 'sk-ant-api03-real-user-key-0123456789';
const OPENAI_KEY = 'sk-proj-real-user-key-9876543210';
const OAUTH = { accessToken: 'sk-ant-oat01-real-access-token', refreshToken: 'sk-ant-ort01-real-refresh', scopes: ['user:inference'] };
const MESSAGE = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] };
const RESPONSE_REQUEST = { model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }], stream: true };

type Upstreams = Partial<ModelProxyOptions['upstreams']>;

async function startProxy(upstreams: Upstreams, extra: Partial<ModelProxyOptions> = {}) {
  const proxy = await ModelProxy.start({
    upstreams: { anthropic: upstreams.anthropic ?? (await closedPortUrl()), openai: upstreams.openai ?? (await closedPortUrl()) },
    logger: pino({ level: 'silent' }),
    ...extra,
  });
  return Object.assign(proxy, { [Symbol.asyncDispose]: () => proxy.close() });
}

function anthropicJob(credential: ProxyJobOptions['credential'] = { api: 'anthropic', kind: 'apiKey', apiKey: ANTHROPIC_KEY }): ProxyJobOptions {
  return { sessionId: 'session-a', credential };
}

function openaiJob(): ProxyJobOptions {
  return { sessionId: 'session-o', credential: { api: 'openai', kind: 'apiKey', apiKey: OPENAI_KEY } };
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A loopback upstream that records every request and answers with `handler`. */
async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      return handler(req, res, body);
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, seen, close, [Symbol.asyncDispose]: close };
}

/** A URL nothing listens on. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function post(url: string, headers: Record<string, string>, body: unknown = MESSAGE): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** A POST through node's own client: fetch refuses to send hop-by-hop headers such as `connection`. */
function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      void readBody(res).then((text) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }), reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('model proxy: credentials', () => {
  test('an Anthropic API-key job: the upstream sees the real key, never the job token', async () => {
    await using fake = await startFakeAnthropic([{ type: 'text', text: 'Hello.' }]);
    await using proxy = await startProxy({ anthropic: fake.url });
    const grant = proxy.open(anthropicJob());
    assert.match(grant.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(grant.baseUrl, `${proxy.url}/anthropic`);

    const res = await post(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token, 'anthropic-version': '2023-06-01' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { content: Array<{ text: string }> };
    assert.equal(body.content[0]?.text, 'Fake side reply');
    assert.equal(fake.requests.length, 1);
    assert.deepEqual(fake.requests[0]?.auth, { apiKey: ANTHROPIC_KEY, bearer: undefined });
    assert.ok(!JSON.stringify(fake.requests).includes(grant.token));
  });

  test('headers: the agent\'s pass (betas, version, query string), the token and hop-by-hop ones do not', async () => {
    await using upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_123', 'x-custom': 'kept', 'keep-alive': 'timeout=5' });
      res.end('{"ok":true}');
    });
    await using proxy = await startProxy({ anthropic: `${upstream.url}/base/` });
    const grant = proxy.open(anthropicJob());
    const res = await rawPost(
      `${grant.baseUrl}/v1/messages?beta=true`,
      {
        authorization: `Bearer ${grant.token}`,
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
        'user-agent': 'claude-cli/test',
        'x-stainless-retry-count': '0',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': 'hop',
      },
      JSON.stringify(MESSAGE),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers['request-id'], 'req_123');
    assert.equal(res.headers['x-custom'], 'kept');
    assert.notEqual(res.headers['keep-alive'], 'timeout=5');
    assert.equal(res.body, '{"ok":true}');

    const [seen] = upstream.seen;
    assert.equal(seen?.url, '/base/v1/messages?beta=true');
    assert.equal(seen?.headers['x-api-key'], ANTHROPIC_KEY);
    assert.equal(seen?.headers.authorization, undefined);
    assert.equal(seen?.headers['anthropic-beta'], 'claude-code-20250219,interleaved-thinking-2025-05-14');
    assert.equal(seen?.headers['anthropic-version'], '2023-06-01');
    assert.equal(seen?.headers['user-agent'], 'claude-cli/test');
    assert.equal(seen?.headers['x-stainless-retry-count'], '0');
    assert.equal(seen?.headers['x-drop-me'], undefined);
    assert.equal(seen?.headers.host, new URL(upstream.url).host);
    assert.equal(seen?.headers['accept-encoding'], 'identity');
    assert.equal(seen?.body, JSON.stringify(MESSAGE));
    assert.ok(!JSON.stringify(seen).includes(grant.token));
  });

  test('an Anthropic OAuth job: bearer access token, oauth beta added to the agent\'s betas', async () => {
    await using fake = await startFakeAnthropic();
    await using proxy = await startProxy({ anthropic: fake.url });
    const grant = proxy.open(anthropicJob({ api: 'anthropic', kind: 'oauth', oauth: OAUTH }));
    const res = await post(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token, 'anthropic-beta': 'claude-code-20250219' });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    // And once more with no betas of the agent's, and the token as a bearer.
    const again = await post(`${grant.baseUrl}/v1/messages`, { authorization: `Bearer ${grant.token}` });
    assert.equal(again.status, 200);
    await again.arrayBuffer();
    assert.deepEqual(fake.requests[0]?.auth, { apiKey: undefined, bearer: OAUTH.accessToken });
    assert.equal(fake.requests[0]?.anthropicBeta, 'claude-code-20250219,oauth-2025-04-20');
    assert.equal(fake.requests[1]?.anthropicBeta, 'oauth-2025-04-20');
    assert.ok(!JSON.stringify(fake.requests).includes(grant.token));
  });

  test('an OpenAI job: the upstream sees the real key as a bearer', async () => {
    await using fake = await startFakeOpenAI([{ type: 'text', text: 'Hello.' }]);
    await using proxy = await startProxy({ openai: fake.url });
    const grant = proxy.open(openaiJob());
    assert.equal(grant.baseUrl, `${proxy.url}/openai/v1`);
    const res = await post(`${grant.baseUrl}/responses`, { authorization: `Bearer ${grant.token}` }, RESPONSE_REQUEST);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /response\.completed/);
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.requests[0]?.path, '/v1/responses');
    assert.equal(fake.requests[0]?.auth.bearer, OPENAI_KEY);
    assert.ok(!JSON.stringify(fake.requests).includes(grant.token));
  });

  test('two jobs each send their own credential', async () => {
    await using fake = await startFakeAnthropic();
    await using proxy = await startProxy({ anthropic: fake.url });
    const one = proxy.open(anthropicJob());
    const two = proxy.open({ sessionId: 'session-b', credential: { api: 'anthropic', kind: 'apiKey', apiKey: 'sk-ant-api03-other-user-key' } });
    assert.notEqual(one.token, two.token);
    for (const grant of [two, one]) await (await post(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token })).arrayBuffer();
    assert.deepEqual(
      fake.requests.map((r) => r.auth.apiKey),
      ['sk-ant-api03-other-user-key', ANTHROPIC_KEY],
    );
  });
});

describe('model proxy: refusals', () => {
  test('a missing, wrong, revoked or foreign token, or the other api\'s token: 401 in the api\'s shape, upstream untouched', async () => {
    await using anthropic = await startFakeAnthropic();
    await using openai = await startFakeOpenAI();
    await using proxy = await startProxy({ anthropic: anthropic.url, openai: openai.url });
    await using otherProxy = await startProxy({ anthropic: anthropic.url, openai: openai.url });
    const claudeGrant = proxy.open(anthropicJob());
    const codexGrant = proxy.open(openaiJob());
    const foreign = otherProxy.open(anthropicJob());
    const revoked = proxy.open(anthropicJob());
    revoked.revoke();
    revoked.revoke();

    const messages = `${proxy.url}/anthropic/v1/messages`;
    const responses = `${proxy.url}/openai/v1/responses`;
    const anthropicCases: Array<[string, Record<string, string>]> = [
      ['no token', {}],
      ['a wrong token', { 'x-api-key': 'not-a-job-token' }],
      ['a wrong bearer', { authorization: 'Bearer not-a-job-token' }],
      ['a token of another proxy', { 'x-api-key': foreign.token }],
      ['a revoked token', { 'x-api-key': revoked.token }],
      ['an OpenAI job\'s token', { 'x-api-key': codexGrant.token }],
      ['the real key itself', { 'x-api-key': ANTHROPIC_KEY }],
    ];
    for (const [label, headers] of anthropicCases) {
      const res = await post(messages, headers);
      assert.equal(res.status, 401, label);
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      assert.equal(body.type, 'error', label);
      assert.equal(body.error.type, 'authentication_error', label);
      assert.ok(body.error.message.length > 0);
    }
    const openaiCases: Array<[string, Record<string, string>]> = [
      ['no token', {}],
      ['a wrong bearer', { authorization: 'Bearer not-a-job-token' }],
      ['a token as x-api-key', { 'x-api-key': codexGrant.token }],
      ['an Anthropic job\'s token', { authorization: `Bearer ${claudeGrant.token}` }],
    ];
    for (const [label, headers] of openaiCases) {
      const res = await post(responses, headers, RESPONSE_REQUEST);
      assert.equal(res.status, 401, label);
      const body = (await res.json()) as { error: { message: string; type: string; code: string } };
      assert.equal(body.error.code, 'invalid_api_key', label);
      assert.equal(typeof body.error.message, 'string');
      assert.equal(typeof body.error.type, 'string');
    }
    assert.equal(anthropic.requests.length, 0);
    assert.equal(openai.requests.length, 0);
  });

  test('revoke: the token is refused from then on, a call in flight still finishes', async () => {
    await using fake = await startFakeAnthropic([{ type: 'text', text: 'slow', delayMs: 300 }]);
    await using proxy = await startProxy({ anthropic: fake.url });
    const grant = proxy.open(anthropicJob());
    const inFlight = post(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token }, { ...MESSAGE, tools: [{ name: 't', input_schema: {} }] });
    await fake.waitForMainRequest(1);
    grant.revoke();
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.match(await res.text(), /slow/);
    const after = await post(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token });
    assert.equal(after.status, 401);
    await after.arrayBuffer();
    assert.equal(fake.requests.length, 1);
    assert.equal(grant.usage().calls, 1);
  });

  test('paths outside the allowlist: 404 in the api\'s shape, upstream untouched', async () => {
    await using anthropic = await startFakeAnthropic();
    await using openai = await startFakeOpenAI();
    await using proxy = await startProxy({ anthropic: anthropic.url, openai: openai.url });
    const claudeGrant = proxy.open(anthropicJob());
    const codexGrant = proxy.open(openaiJob());
    const a = { 'x-api-key': claudeGrant.token };
    const o = { authorization: `Bearer ${codexGrant.token}` };
    const cases: Array<[string, string, Record<string, string>, 'anthropic' | 'openai']> = [
      ['GET', '/anthropic/v1/models', a, 'anthropic'],
      ['GET', '/anthropic/v1/messages', a, 'anthropic'],
      ['POST', '/anthropic/v1/messages/batches', a, 'anthropic'],
      ['POST', '/anthropic/v1/files', a, 'anthropic'],
      ['POST', '/anthropic/v1/messages/../files', a, 'anthropic'],
      ['POST', '/anthropic/v1/messages%2F..%2Ffiles', a, 'anthropic'],
      ['POST', '/anthropic//v1/messages', a, 'anthropic'],
      ['POST', '/anthropic/api/oauth/profile', a, 'anthropic'],
      ['GET', '/openai/v1/models', o, 'openai'],
      ['POST', '/openai/v1/chat/completions', o, 'openai'],
      ['POST', '/openai/v1/responses/compact', o, 'openai'],
      ['GET', '/openai/v1/responses', o, 'openai'],
      ['POST', '/openai/v1/files', o, 'openai'],
    ];
    for (const [method, path, headers, api] of cases) {
      const res = await fetch(`${proxy.url}${path}`, { method, headers, ...(method === 'POST' ? { body: '{}' } : {}) });
      assert.equal(res.status, 404, `${method} ${path}`);
      const body = (await res.json()) as any;
      if (api === 'anthropic') assert.equal(body.error.type, 'not_found_error', path);
      else assert.equal(body.error.code, 'not_found', path);
    }
    for (const path of ['/v1/messages', '/', '/anthropicv1/messages', '/openai/responses']) {
      const res = await fetch(`${proxy.url}${path}`, { method: 'POST', headers: a, body: '{}' });
      assert.equal(res.status, 404, path);
      await res.arrayBuffer();
    }
    assert.deepEqual(anthropic.requests, []);
    assert.deepEqual(openai.requests, []);
  });

  test('a body over the limit: 413, upstream untouched', async () => {
    await using fake = await startFakeAnthropic();
    await using proxy = await startProxy({ anthropic: fake.url }, { maxRequestBytes: 1024 });
    const grant = proxy.open(anthropicJob());
    const res = await post(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token }, { ...MESSAGE, padding: 'x'.repeat(2048) });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as any).error.type, 'request_too_large');
    assert.equal(fake.requests.length, 0);
  });

  test('an unreachable upstream: 502 in the api\'s shape', async () => {
    await using proxy = await startProxy({});
    const claude = proxy.open(anthropicJob());
    const codex = proxy.open(openaiJob());
    const a = await post(`${claude.baseUrl}/v1/messages`, { 'x-api-key': claude.token });
    assert.equal(a.status, 502);
    assert.equal(((await a.json()) as any).error.type, 'api_error');
    const o = await post(`${codex.baseUrl}/responses`, { authorization: `Bearer ${codex.token}` }, RESPONSE_REQUEST);
    assert.equal(o.status, 502);
    assert.equal(((await o.json()) as any).error.type, 'server_error');
  });

  test('an upstream error passes through unchanged', async () => {
    const errorBody = { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } };
    await using fake = await startFakeAnthropic([{ type: 'error', status: 429, body: errorBody }]);
    await using proxy = await startProxy({ anthropic: fake.url });
    const grant = proxy.open(anthropicJob());
    const res = await post(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token }, { ...MESSAGE, tools: [{ name: 't', input_schema: {} }] });
    assert.equal(res.status, 429);
    assert.deepEqual(await res.json(), errorBody);
    assert.equal(grant.usage().calls, 0);
  });
});
