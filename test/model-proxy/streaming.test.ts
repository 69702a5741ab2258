/**
 * The model proxy streams: each upstream chunk reaches the agent as it arrives, byte for byte,
 * and an agent that hangs up takes the upstream call down with it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pino } from 'pino';
import { ModelProxy } from '../../src/model-proxy/model-proxy.js';
import type { ProxyJobOptions } from '../../src/model-proxy/types.js';
import { listenOnLoopback, readBody } from '../fixtures/loopback.js';

const JOB: ProxyJobOptions = { sessionId: 'session-s', credential: { api: 'anthropic', kind: 'apiKey', apiKey: 'sk-ant-api03-streaming-key-0123' } };
const MESSAGE = { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi' }] };

async function startProxy(anthropic: string) {
  const proxy = await ModelProxy.start({ upstreams: { anthropic, openai: 'http://127.0.0.1:9' }, logger: pino({ level: 'silent' }) });
  return Object.assign(proxy, { [Symbol.asyncDispose]: () => proxy.close() });
}

/** A loopback upstream that answers with `handler` once it has read the request. */
async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>) {
  let requests = 0;
  const server = createServer((req, res) => {
    void readBody(req).then(() => {
      requests++;
      return handler(req, res);
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, requests: () => requests, close, [Symbol.asyncDispose]: close };
}

function post(url: string, token: string, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'x-api-key': token, 'content-type': 'application/json' },
    body: JSON.stringify(MESSAGE),
    ...(signal ? { signal } : {}),
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or 'timeout' after `ms` (the timer does not outlive the race). */
async function within<T>(promise: Promise<T>, ms = 5_000): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('model proxy: streaming', () => {
  test('200 SSE chunks arrive in order and byte for byte, the first before the upstream has finished', async () => {
    // Event text with multi-byte characters, cut into 200 pieces at arbitrary byte offsets
    // (splitting characters too): the proxy must pass bytes, not re-encoded text.
    const events = Array.from({ length: 200 }, (_, i) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo ✓ ${i}"}}\n\n`);
    const whole = Buffer.from(events.join(''));
    const pieces: Buffer[] = [];
    for (let i = 0, at = 0; i < 200; i++) {
      const end = i === 199 ? whole.length : Math.round(((i + 1) * whole.length) / 200) + (i % 3) - 1;
      pieces.push(whole.subarray(at, end));
      at = end;
    }
    assert.equal(Buffer.concat(pieces).toString(), whole.toString());

    let firstChunkSeen!: () => void;
    const firstSeen = new Promise<void>((resolve) => (firstChunkSeen = resolve));
    let upstreamFinishedAt = 0;
    await using upstream = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(pieces[0]);
      // The rest waits until the client has the first piece: a proxy that buffered would stall here.
      const gate = await within(firstSeen);
      if (gate === 'timeout') {
        res.end();
        return;
      }
      for (const piece of pieces.slice(1)) {
        res.write(piece);
        await delay(1);
      }
      upstreamFinishedAt = performance.now();
      res.end();
    });
    await using proxy = await startProxy(upstream.url);
    const grant = proxy.open(JOB);

    const res = await post(`${grant.baseUrl}/v1/messages`, grant.token);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const received: Buffer[] = [];
    let firstChunkAt = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (received.length === 0) {
        firstChunkAt = performance.now();
        firstChunkSeen();
      }
      received.push(Buffer.from(chunk));
    }
    assert.ok(upstreamFinishedAt > 0, 'the upstream never saw the client receive its first chunk');
    assert.ok(firstChunkAt < upstreamFinishedAt);
    assert.ok(Buffer.concat(received).equals(whole), 'bytes differ');
    assert.ok(received.length >= 20, `only ${received.length} chunks arrived: the stream was buffered`);
  });

  test('a head that comes alone is sent on at once, before the first chunk', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await using upstream = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      await within(released);
      res.end('event: ping\ndata: {"type":"ping"}\n\n');
    });
    await using proxy = await startProxy(upstream.url);
    const grant = proxy.open(JOB);
    const res = await within(post(`${grant.baseUrl}/v1/messages`, grant.token), 2_000);
    assert.notEqual(res, 'timeout', 'the head waited for the body');
    release();
    assert.equal((res as Response).status, 200);
    assert.match(await (res as Response).text(), /ping/);
  });

  test('the agent hanging up mid-stream aborts the upstream request', async () => {
    let upstreamClosed!: (ended: boolean) => void;
    const closed = new Promise<boolean>((resolve) => (upstreamClosed = resolve));
    await using upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message_start\ndata: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":5,"output_tokens":1}}}\n\n');
      res.on('close', () => upstreamClosed(res.writableEnded));
    });
    await using proxy = await startProxy(upstream.url);
    const grant = proxy.open(JOB);
    const controller = new AbortController();
    const res = await post(`${grant.baseUrl}/v1/messages`, grant.token, controller.signal);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const ended = await within(closed);
    assert.equal(ended, false, 'the upstream response should be closed, unfinished');
    // The input was billed: the cut call still counts.
    await delay(50);
    assert.deepEqual(grant.usage(), { calls: 1, inputTokens: 5, outputTokens: 1, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 });
  });

  test('the agent hanging up before the response head aborts the upstream request', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    await using upstream = await startUpstream((_req, res) => {
      res.on('close', () => upstreamClosed());
    });
    await using proxy = await startProxy(upstream.url);
    const grant = proxy.open(JOB);
    const controller = new AbortController();
    const request = post(`${grant.baseUrl}/v1/messages`, grant.token, controller.signal).catch((error: unknown) => error);
    while (upstream.requests() < 1) await delay(5);
    controller.abort();
    assert.ok((await request) instanceof Error);
    assert.equal(await within(closed.then(() => 'closed')), 'closed');
  });
});
