/**
 * Issue #12 benchmark: what the model proxy adds to a model call. A streaming Messages API
 * upstream (message_start, N content_block_delta events written one by one, message_stop) runs
 * in a child process on loopback; the same request goes to it directly, through the proxy, and
 * through a bare node:http pipe (an extra hop with no checks, no metering: what any proxy costs),
 * taking turns, in the same run. Measured from the request's first byte: the response head
 * (TTFB), the first content_block_delta (TTFT) and the end; tokens per second are the deltas
 * over the whole response time. The target: under 2 ms added per call at p50.
 *
 *   node --import tsx bench/model-proxy.ts          (BENCH_RUNS calls each way, default 300)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { ModelProxy } from '../src/model-proxy/model-proxy.js';
import { fmt, table } from './lib.js';

const CALLS = Number(process.env.BENCH_RUNS ?? 300);
const WARMUP = 30;
/** Text deltas per response: a few hundred tokens, a typical agent turn. */
const DELTAS = 200;
/** The request body: an agent's request carries its system prompt, tools and conversation. */
const BODY_BYTES = 100 * 1024;
const API_KEY = 'sk-ant-api03-BENCHMARK-KEY-000000';

interface Sample {
  ttfbMs: number;
  ttftMs: number;
  totalMs: number;
  tokensPerSecond: number;
  bytes: Buffer;
}

type Side = 'direct' | 'pipe' | 'proxied';
const SIDES: Side[] = ['direct', 'pipe', 'proxied'];

export async function benchModelProxy(): Promise<string> {
  const upstream = await startUpstreamProcess();
  const proxy = await ModelProxy.start({
    upstreams: { anthropic: upstream.url, openai: upstream.url },
    logger: pino({ level: 'silent' }),
  });
  const grant = proxy.open({ sessionId: 'bench', credential: { api: 'anthropic', kind: 'apiKey', apiKey: API_KEY } });
  const pipe = await startBarePipe(upstream.url);
  // One keep-alive connection per side, as an agent's HTTP client keeps one to its API.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = Buffer.from(JSON.stringify({ model: 'claude-bench', max_tokens: 1024, stream: true, messages: [{ role: 'user', content: 'x'.repeat(BODY_BYTES) }] }));
  const targets: Record<Side, { url: string; headers: Record<string, string> }> = {
    direct: { url: `${upstream.url}/v1/messages?beta=true`, headers: { 'x-api-key': API_KEY } },
    pipe: { url: `${pipe.url}/v1/messages?beta=true`, headers: { 'x-api-key': API_KEY } },
    proxied: { url: `${grant.baseUrl}/v1/messages?beta=true`, headers: { 'x-api-key': grant.token } },
  };
  const loadBefore = os.loadavg()[0]!;
  const samples: Record<Side, Sample[]> = { direct: [], pipe: [], proxied: [] };
  try {
    for (let i = 0; i < WARMUP; i++) for (const side of SIDES) await measureCall(targets[side], body, agent);
    for (let i = 0; i < CALLS; i++) {
      // Rotating order: no side always runs on a path the previous call just warmed.
      for (let k = 0; k < SIDES.length; k++) {
        const side = SIDES[(i + k) % SIDES.length]!;
        samples[side].push(await measureCall(targets[side], body, agent));
      }
    }
  } finally {
    agent.destroy();
    await proxy.close();
    await pipe.close();
    upstream.stop();
  }
  const loadAfter = os.loadavg()[0]!;

  const reference = samples.direct[0]!.bytes;
  if (!SIDES.every((side) => samples[side].every((sample) => sample.bytes.equals(reference)))) {
    throw new Error('a response through the proxy differs from the direct one');
  }
  const usage = grant.usage();
  if (usage.calls !== WARMUP + CALLS || usage.outputTokens !== (WARMUP + CALLS) * DELTAS) {
    throw new Error(`the proxy metered ${usage.calls} calls and ${usage.outputTokens} output tokens`);
  }

  const p50 = (side: Side, key: Metric) => percentile(samples[side].map((s) => s[key]), 50);
  const p90 = (side: Side, key: Metric) => percentile(samples[side].map((s) => s[key]), 90);
  const row = (measurement: string, key: Metric, unit: string, digits: number, isTime = true) => ({
    measurement,
    'direct p50': `${fmt(p50('direct', key), digits)} ${unit}`,
    'direct p90': `${fmt(p90('direct', key), digits)} ${unit}`,
    'proxied p50': `${fmt(p50('proxied', key), digits)} ${unit}`,
    'proxied p90': `${fmt(p90('proxied', key), digits)} ${unit}`,
    'proxied / direct (p50)': fmt(p50('proxied', key) / p50('direct', key), 3),
    'added at p50': isTime ? `${fmt(p50('proxied', key) - p50('direct', key), 2)} ms` : '',
    'bare pipe adds at p50': isTime ? `${fmt(p50('pipe', key) - p50('direct', key), 2)} ms` : '',
  });
  const addedTtft = p50('proxied', 'ttftMs') - p50('direct', 'ttftMs');
  return [
    `Calls: ${CALLS} each way after ${WARMUP} warm-up calls each, taking turns; one keep-alive connection per side. ` +
      `Each call posts ${BODY_BYTES / 1024} KiB of JSON and streams back message_start, ${DELTAS} content_block_delta events ` +
      `(one write each) and message_stop from an upstream in a child process. The client, the proxy and the bare pipe ` +
      `(node:http request + pipe, no checks) share this process. Every response, on each path, was byte-identical ` +
      `to the direct one, and the proxy metered every call's ${DELTAS} output tokens. ` +
      `Load average (1 min) ${fmt(loadBefore, 2)} before and ${fmt(loadAfter, 2)} after, on ${os.cpus().length} CPUs.`,
    '',
    table([
      row('time to first byte (response head)', 'ttfbMs', 'ms', 2),
      row('time to first token (first content_block_delta)', 'ttftMs', 'ms', 2),
      row(`full response (${DELTAS} deltas)`, 'totalMs', 'ms', 2),
      row('tokens per second (whole response)', 'tokensPerSecond', 'tok/s', 0, false),
    ]),
    '',
    `Target: under 2 ms added per model call at p50 — time to first token: ${fmt(addedTtft, 2)} ms ` +
      `(${addedTtft < 2 ? 'met' : 'NOT met'}), of which a bare extra hop accounts for ${fmt(p50('pipe', 'ttftMs') - p50('direct', 'ttftMs'), 2)} ms.`,
  ].join('\n');
}

type Metric = keyof Omit<Sample, 'bytes'>;

/** One streaming call; times from just before the request is sent. */
function measureCall(target: { url: string; headers: Record<string, string> }, body: Buffer, agent: http.Agent): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      target.url,
      { method: 'POST', agent, headers: { ...target.headers, 'content-type': 'application/json', 'content-length': body.length, 'anthropic-version': '2023-06-01' } },
      (res) => {
        const ttfbMs = performance.now() - started;
        let ttftMs = 0;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          if (ttftMs === 0 && chunk.includes('content_block_delta')) ttftMs = performance.now() - started;
          chunks.push(chunk);
        });
        res.on('end', () => {
          const totalMs = performance.now() - started;
          if (res.statusCode !== 200) return reject(new Error(`${target.url} answered ${res.statusCode}`));
          resolve({ ttfbMs, ttftMs, totalMs, tokensPerSecond: DELTAS / (totalMs / 1000), bytes: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((sorted.length * p) / 100) - 1)]!;
}

/** The least a proxy can do: forward the request and pipe both bodies, on a keep-alive agent. */
async function startBarePipe(upstreamUrl: string): Promise<{ url: string; close: () => Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer({ noDelay: true }, (req, res) => {
    const forward = http.request(`${upstreamUrl}${req.url}`, { method: req.method, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** Starts this file as the upstream in a child process; resolves with its URL once it listens. */
async function startUpstreamProcess(): Promise<{ url: string; stop: () => void }> {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--upstream'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the upstream exited with ${code}`)));
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  child.removeAllListeners('exit');
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

/** The upstream: reads the request, then streams a Messages API answer, one write per event. */
async function serveUpstream(): Promise<void> {
  const event = (type: string, data: unknown): string => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  const start = event('message_start', {
    type: 'message_start',
    message: { id: 'msg_bench', type: 'message', role: 'assistant', model: 'claude-bench', content: [], usage: { input_tokens: 25_000, output_tokens: 1 } },
  });
  const deltas = Array.from({ length: DELTAS }, (_, i) =>
    event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ` token${i}` } }),
  );
  const end =
    event('content_block_stop', { type: 'content_block_stop', index: 0 }) +
    event('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: DELTAS } }) +
    event('message_stop', { type: 'message_stop' });
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(start);
      let i = 0;
      // One event per turn of the event loop: separate chunks on the wire, as a model streams them.
      const next = (): void => {
        if (i < deltas.length) {
          res.write(deltas[i++]);
          setImmediate(next);
        } else res.end(end);
      };
      setImmediate(next);
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--upstream')) await serveUpstream();
  else {
    console.log('## Model proxy (issue #12)\n');
    console.log(await benchModelProxy());
  }
}
