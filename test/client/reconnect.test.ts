import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { createClient, WorkerApiError, WorkerConnectionError, type ClientOptions } from '../../src/client/index.js';
import { listenOnLoopback, readBody } from '../fixtures/loopback.js';
import { collect, jobRequest } from './helpers.js';

/**
 * Edge cases the real worker does not produce on demand, against a scripted
 * HTTP server that speaks the worker's wire format: each route answers with
 * the next step of its script.
 */
type Step = (req: IncomingMessage, res: ServerResponse) => void;

interface Scripted {
  requests: Array<{ method: string; path: string; lastEventId?: string }>;
  client(options?: Omit<ClientOptions, 'baseUrl'>): ReturnType<typeof createClient>;
  close(): Promise<void>;
}

async function scriptedWorker(script: { execute?: Step[]; stream?: Step[] }): Promise<Scripted> {
  const requests: Scripted['requests'] = [];
  const steps = { execute: [...(script.execute ?? [])], stream: [...(script.stream ?? [])] };
  const server = createServer((req, res) => {
    void readBody(req).then(() => {
      const path = req.url ?? '/';
      const lastEventId = req.headers['last-event-id'] as string | undefined;
      requests.push({ method: req.method ?? 'GET', path, ...(lastEventId !== undefined ? { lastEventId } : {}) });
      const queue = path === '/execute' ? steps.execute : /^\/sessions\/[^/]+\/stream$/.test(path) ? steps.stream : undefined;
      const step = queue?.shift();
      if (step) step(req, res);
      else res.writeHead(500).end('no step left');
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    requests,
    client: (options = {}) => createClient({ baseUrl: `http://127.0.0.1:${port}`, ...options }),
    close,
  };
}

const event = (id: number, type: string, fields: Record<string, unknown> = {}) =>
  `id: ${id}\ndata: ${JSON.stringify({ type, timestamp: new Date(0).toISOString(), ...fields })}\n\n`;
const connected = (id: number) => event(id, 'connected', { sessionId: 's1', resuming: false, provider: 'claude-code' });
const completed = (id: number) => event(id, 'completed', { sessionId: 's1', duration_ms: 1 });

/** Answers an SSE stream with `frames`, then ends it cleanly, breaks the connection, or leaves it open. */
const sse =
  (frames: string[], then: 'end' | 'break' | 'hang' = 'end'): Step =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'x-session-id': 's1' });
    res.write(frames.join(''));
    if (then === 'end') res.end();
    // Give the frames time to leave before the reset.
    if (then === 'break') setTimeout(() => res.socket?.destroy(), 50);
  };
const refuse =
  (status: number, body: unknown, headers: Record<string, string> = {}): Step =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
const busy = { error: 'shutting_down', code: 'SHUTTING_DOWN', message: 'The worker is shutting down.' };

describe('client: re-attaching (scripted worker)', () => {
  it('drops replayed events it already yielded, and re-attaches instead of posting again', async () => {
    const worker = await scriptedWorker({
      execute: [sse([connected(1), event(2, 'message', { message: 'a' })], 'break')],
      // A stream that ignores Last-Event-ID and replays from the start.
      stream: [sse([connected(1), event(2, 'message', { message: 'a' }), event(3, 'message', { message: 'b' }), completed(4)])],
    });
    try {
      const events = await collect(worker.client().execute(jobRequest('x')));
      assert.deepEqual(events.map((item) => item.id), [1, 2, 3, 4]);
      assert.deepEqual(worker.requests, [
        { method: 'POST', path: '/execute' },
        { method: 'GET', path: '/sessions/s1/stream', lastEventId: '2' },
      ]);
    } finally {
      await worker.close();
    }
  });

  it('re-attaches after a clean end without the final event, waiting out a 503 on the way', async () => {
    const worker = await scriptedWorker({
      execute: [sse([connected(1)], 'end')],
      stream: [refuse(503, busy, { 'retry-after': '0' }), sse([completed(2)])],
    });
    try {
      const events = await collect(worker.client().execute(jobRequest('x')));
      assert.deepEqual(events.map((item) => item.event.type), ['connected', 'completed']);
      assert.deepEqual(
        worker.requests.map((request) => request.lastEventId),
        [undefined, '1', '1'],
      );
    } finally {
      await worker.close();
    }
  });

  it('re-attaches a new session from its start when the stream broke before its first event', async () => {
    const worker = await scriptedWorker({
      execute: [sse([], 'break')],
      stream: [sse([connected(1), completed(2)])],
    });
    try {
      const events = await collect(worker.client().execute(jobRequest('x')));
      assert.deepEqual(events.map((item) => item.id), [1, 2]);
      assert.equal(worker.requests[1]!.lastEventId, undefined, 'no Last-Event-ID: from the start');
    } finally {
      await worker.close();
    }
  });

  it("gives up on a resumed session's job that broke before its first event: its first id is unknown", async () => {
    const worker = await scriptedWorker({ execute: [sse([], 'break')] });
    try {
      await assert.rejects(
        collect(worker.client().execute(jobRequest('x', { resumeSessionId: 's1' }))),
        (error) => error instanceof WorkerConnectionError && error.sessionId === 's1' && error.lastEventId === undefined,
      );
      assert.equal(worker.requests.length, 1, 'no re-attach, no second POST');
    } finally {
      await worker.close();
    }
  });

  it('treats a silent connection as lost after the idle timeout', async () => {
    const worker = await scriptedWorker({
      execute: [sse([connected(1)], 'hang')],
      stream: [sse([completed(2)])],
    });
    try {
      const events = await collect(worker.client({ reconnect: { idleTimeoutMs: 200 } }).execute(jobRequest('x')));
      assert.deepEqual(events.map((item) => item.id), [1, 2]);
    } finally {
      await worker.close();
    }
  });

  it('gives up re-attaching after the bound, saying where to pick up', async () => {
    const reset: Step = (_req, res) => res.socket?.destroy();
    const worker = await scriptedWorker({
      execute: [sse([connected(1)], 'break')],
      stream: Array.from({ length: 50 }, () => reset),
    });
    try {
      const attempts: number[] = [];
      const client = worker.client({ reconnect: { maxWaitMs: 500 } });
      await assert.rejects(
        collect(client.execute(jobRequest('x'), { onReconnect: (info) => attempts.push(info.attempt) })),
        (error) => error instanceof WorkerConnectionError && error.sessionId === 's1' && error.lastEventId === 1,
      );
      assert.ok(attempts.length >= 2, `retried with backoff (${attempts.length} attempts)`);
      assert.equal(worker.requests.filter((request) => request.method === 'POST').length, 1);
    } finally {
      await worker.close();
    }
  });

  it("reads retryAfter from the body when there is no Retry-After header, and types a proxy's error page", async () => {
    const worker = await scriptedWorker({
      execute: [
        refuse(429, { error: 'worker_busy', code: 'WORKER_BUSY', message: 'No free slot.', retryAfter: 7 }),
        (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'),
      ],
    });
    try {
      const client = worker.client({ retry: { maxWaitMs: 1_000 } });
      await assert.rejects(
        collect(client.execute(jobRequest('x'))),
        (error) => error instanceof WorkerApiError && error.code === 'WORKER_BUSY' && error.retryAfter === 7,
      );
      await assert.rejects(
        collect(client.execute(jobRequest('x'))),
        (error) => error instanceof WorkerApiError && error.status === 502 && error.code === 'HTTP_502',
      );
    } finally {
      await worker.close();
    }
  });

  it('yields a live-only frame (no id, named event) as `liveOnly` without moving Last-Event-ID (issue #12)', async () => {
    const login = { type: 'credentials_updated', timestamp: new Date(0).toISOString(), accessToken: 'sk-ant-oat01-new', refreshToken: 'sk-ant-ort01-new', expiresAt: 1 };
    const liveOnly = `event: credentials_updated\ndata: ${JSON.stringify(login)}\n\n`;
    const worker = await scriptedWorker({
      execute: [sse([connected(1), liveOnly], 'break')],
      stream: [sse([completed(2)])],
    });
    try {
      const events = await collect(worker.client().execute(jobRequest('x')));
      assert.deepEqual(
        events.map((item) => [item.id, item.event.type, item.liveOnly ?? false]),
        [
          [1, 'connected', false],
          [1, 'credentials_updated', true],
          [2, 'completed', false],
        ],
      );
      assert.equal((events[1]!.event as { accessToken?: string }).accessToken, 'sk-ant-oat01-new');
      assert.equal(worker.requests[1]!.lastEventId, '1', 're-attached after the last numbered event');
    } finally {
      await worker.close();
    }
  });
});
