/**
 * Token usage read by the model proxy from the responses passing through: streaming and
 * non-streaming, Messages API and Responses API, summed per job.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { pino } from 'pino';
import { ModelProxy } from '../../src/model-proxy/model-proxy.js';
import type { CallUsage, ProxyJobOptions } from '../../src/model-proxy/types.js';
import { createUsageMeter } from '../../src/model-proxy/usage-meter.js';
import { startFakeAnthropic } from '../fixtures/fake-anthropic.js';
import { FAKE_USAGE, startFakeOpenAI } from '../fixtures/fake-openai.js';
import { listenOnLoopback, readBody } from '../fixtures/loopback.js';

const ANTHROPIC: ProxyJobOptions = { sessionId: 's-a', credential: { api: 'anthropic', kind: 'apiKey', apiKey: 'sk-ant-api03-usage-test-key' } };
const OPENAI: ProxyJobOptions = { sessionId: 's-o', credential: { api: 'openai', kind: 'apiKey', apiKey: 'sk-proj-usage-test-key' } };
const TOOLS = [{ name: 'Write', description: 'w', input_schema: { type: 'object' } }];
const ZERO = { calls: 0, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 };

async function startProxy(upstreams: { anthropic?: string; openai?: string }) {
  const calls: CallUsage[] = [];
  const proxy = await ModelProxy.start({
    upstreams: { anthropic: upstreams.anthropic ?? 'http://127.0.0.1:9', openai: upstreams.openai ?? 'http://127.0.0.1:9' },
    logger: pino({ level: 'silent' }),
    onCall: (usage) => calls.push(usage),
  });
  return Object.assign(proxy, { calls, [Symbol.asyncDispose]: () => proxy.close() });
}

/** An upstream that answers every request with `reply`. */
async function startUpstream(reply: (res: ServerResponse) => void) {
  const server = createServer((req, res) => void readBody(req).then(() => reply(res)));
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, close, [Symbol.asyncDispose]: close };
}

async function call(url: string, headers: Record<string, string>, body: unknown): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

function sse(events: Array<{ type: string; [key: string]: unknown }>, lineEnd = '\n'): string {
  return events.map((e) => `event: ${e.type}${lineEnd}data: ${JSON.stringify(e)}${lineEnd}${lineEnd}`).join('');
}

/** A Messages API stream whose `message_delta` revises the input side, as the API may. */
const REVISED_STREAM = sse([
  {
    type: 'message_start',
    message: { id: 'msg_1', model: 'claude-opus-4-1', usage: { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'ping' },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Grüße ✓' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 7 } },
  { type: 'message_delta', delta: {}, usage: { input_tokens: 12, cache_read_input_tokens: 300, cache_creation_input_tokens: 40, output_tokens: 25 } },
  { type: 'message_stop' },
]);
const REVISED_USAGE: CallUsage = { api: 'anthropic', model: 'claude-opus-4-1', inputTokens: 12, outputTokens: 25, cacheReadInputTokens: 300, cacheCreationInputTokens: 40 };

describe('model proxy: usage', () => {
  test('Anthropic, streaming: message_start and message_delta of every call, summed', async () => {
    await using fake = await startFakeAnthropic([{ type: 'tool_use', name: 'Write', input: { file_path: 'a', content: 'b' } }, { type: 'text', text: 'Done.' }]);
    await using proxy = await startProxy({ anthropic: fake.url });
    const grant = proxy.open(ANTHROPIC);
    for (let i = 0; i < 2; i++) {
      const body = { model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, tools: TOOLS, messages: [{ role: 'user', content: 'go' }] };
      assert.equal(await call(`${grant.baseUrl}/v1/messages?beta=true`, { 'x-api-key': grant.token }, body), 200);
    }
    assert.deepEqual(grant.usage(), { calls: 2, inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 });
    assert.deepEqual(proxy.calls, [
      { api: 'anthropic', model: 'claude-sonnet-4-5', inputTokens: 50, outputTokens: 10, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
      { api: 'anthropic', model: 'claude-sonnet-4-5', inputTokens: 50, outputTokens: 10, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
    ]);
  });

  test('Anthropic, streaming: later usage fields replace earlier ones', async () => {
    await using upstream = await startUpstream((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      // Byte by byte across several writes: the meter must join lines cut anywhere.
      const bytes = Buffer.from(REVISED_STREAM);
      for (let at = 0; at < bytes.length; at += 37) res.write(bytes.subarray(at, at + 37));
      res.end();
    });
    await using proxy = await startProxy({ anthropic: upstream.url });
    const grant = proxy.open(ANTHROPIC);
    assert.equal(await call(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token }, { stream: true }), 200);
    assert.deepEqual(proxy.calls, [REVISED_USAGE]);
    assert.deepEqual(grant.usage(), { calls: 1, inputTokens: 12, outputTokens: 25, cacheReadInputTokens: 300, cacheCreationInputTokens: 40 });
  });

  test('Anthropic, non-streaming: body.usage and body.model; count_tokens and errors do not count', async () => {
    await using fake = await startFakeAnthropic([{ type: 'text', text: 'Hi.' }, { type: 'error', status: 500 }]);
    await using proxy = await startProxy({ anthropic: fake.url });
    const grant = proxy.open(ANTHROPIC);
    const body = { model: 'claude-haiku-4-5', max_tokens: 100, tools: TOOLS, messages: [{ role: 'user', content: 'go' }] };
    assert.equal(await call(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token }, body), 200);
    assert.equal(await call(`${grant.baseUrl}/v1/messages/count_tokens`, { 'x-api-key': grant.token }, body), 200);
    assert.equal(await call(`${grant.baseUrl}/v1/messages`, { 'x-api-key': grant.token }, body), 500);
    assert.deepEqual(grant.usage(), { calls: 1, inputTokens: 50, outputTokens: 10, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 });
    assert.deepEqual(proxy.calls.map((c) => c.model), ['claude-haiku-4-5']);
  });

  test('OpenAI, streaming: response.completed; the cached tokens are counted apart from the input, as for Anthropic', async () => {
    await using fake = await startFakeOpenAI([{ type: 'exec', cmd: 'ls' }, { type: 'text', text: 'Done.', reasoning: 'think' }]);
    await using proxy = await startProxy({ openai: fake.url });
    const grant = proxy.open(OPENAI);
    for (let i = 0; i < 2; i++) {
      assert.equal(await call(`${grant.baseUrl}/responses`, { authorization: `Bearer ${grant.token}` }, { model: 'gpt-5-codex', stream: true, input: [] }), 200);
    }
    const one = {
      api: 'openai',
      model: 'gpt-5-codex',
      inputTokens: FAKE_USAGE.input_tokens - FAKE_USAGE.cached_input_tokens,
      outputTokens: FAKE_USAGE.output_tokens,
      cacheReadInputTokens: FAKE_USAGE.cached_input_tokens,
      cacheCreationInputTokens: 0,
    };
    assert.deepEqual(proxy.calls, [one, one]);
    assert.deepEqual(grant.usage(), { calls: 2, inputTokens: 200, outputTokens: 60, cacheReadInputTokens: 40, cacheCreationInputTokens: 0 });
  });

  test('OpenAI: response.incomplete with usage counts, response.failed without usage does not', async () => {
    let reply = 0;
    await using upstream = await startUpstream((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const usage = { input_tokens: 7, input_tokens_details: { cached_tokens: 3 }, output_tokens: 2 };
      res.end(
        reply++ === 0
          ? sse([{ type: 'response.created', response: { model: 'gpt-5' } }, { type: 'response.incomplete', response: { model: 'gpt-5', status: 'incomplete', usage } }], '\r\n')
          : sse([{ type: 'response.failed', response: { status: 'failed', error: { code: 'server_error' } } }]),
      );
    });
    await using proxy = await startProxy({ openai: upstream.url });
    const grant = proxy.open(OPENAI);
    for (let i = 0; i < 2; i++) assert.equal(await call(`${grant.baseUrl}/responses`, { authorization: `Bearer ${grant.token}` }, {}), 200);
    assert.deepEqual(grant.usage(), { calls: 1, inputTokens: 4, outputTokens: 2, cacheReadInputTokens: 3, cacheCreationInputTokens: 0 });
  });

  test('OpenAI, non-streaming: body.usage and body.model', async () => {
    await using upstream = await startUpstream((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'resp_1', model: 'gpt-5-mini', output: [], usage: { input_tokens: 40, input_tokens_details: { cached_tokens: 0 }, output_tokens: 9 } }));
    });
    await using proxy = await startProxy({ openai: upstream.url });
    const grant = proxy.open(OPENAI);
    assert.equal(await call(`${grant.baseUrl}/responses`, { authorization: `Bearer ${grant.token}` }, { stream: false }), 200);
    assert.deepEqual(proxy.calls, [{ api: 'openai', model: 'gpt-5-mini', inputTokens: 40, outputTokens: 9, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 }]);
  });

  test('each job has its own totals', async () => {
    await using fake = await startFakeAnthropic();
    await using proxy = await startProxy({ anthropic: fake.url });
    const one = proxy.open(ANTHROPIC);
    const two = proxy.open({ ...ANTHROPIC, sessionId: 's-b' });
    assert.equal(await call(`${one.baseUrl}/v1/messages`, { 'x-api-key': one.token }, { stream: true }), 200);
    assert.deepEqual(two.usage(), ZERO);
    assert.equal(one.usage().calls, 1);
  });
});

describe('usage meter', () => {
  test('reads the same usage whatever the chunk boundaries', () => {
    const bytes = Buffer.from(REVISED_STREAM);
    for (let cut = 1; cut < bytes.length; cut += 3) {
      const meter = createUsageMeter('anthropic', 'text/event-stream')!;
      meter.push(bytes.subarray(0, cut));
      meter.push(bytes.subarray(cut));
      assert.deepEqual(meter.finish(), REVISED_USAGE, `cut at ${cut}`);
    }
    const meter = createUsageMeter('anthropic', 'text/event-stream')!;
    for (let at = 0; at < bytes.length; at++) meter.push(bytes.subarray(at, at + 1));
    assert.deepEqual(meter.finish(), REVISED_USAGE);
  });

  test('a stream without usage, a non-JSON body, or another content type reports nothing', () => {
    const stream = createUsageMeter('anthropic', 'text/event-stream')!;
    stream.push(Buffer.from(sse([{ type: 'ping' }, { type: 'content_block_delta', delta: { text: 'x' } }])));
    assert.equal(stream.finish(), undefined);
    const json = createUsageMeter('openai', 'application/json')!;
    json.push(Buffer.from('{"usage": '));
    assert.equal(json.finish(), undefined);
    assert.equal(createUsageMeter('anthropic', 'text/plain'), undefined);
  });

  test('events without an `event:` line are read by their data', () => {
    const meter = createUsageMeter('openai', 'text/event-stream')!;
    meter.push(Buffer.from(': comment\n\ndata: {"type":"response.completed","response":{"model":"m","usage":{"input_tokens":5,"output_tokens":1}}}\n\n'));
    assert.deepEqual(meter.finish(), { api: 'openai', model: 'm', inputTokens: 5, outputTokens: 1, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 });
  });
});
