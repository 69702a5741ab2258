/**
 * Issue #12 benchmark, the whole agent run: the real `claude` binary (through the Agent SDK,
 * with the quiet environment of src/providers/claude-code.ts) runs the same two-turn job — a
 * Write tool call, then an answer — against the suite's fake Messages API, directly (the user's
 * key in its environment, as before the proxy) and through the model proxy (a job token),
 * taking turns in the same run. The difference is what the proxy adds to a job.
 *
 *   node --import tsx bench/model-proxy-job.ts          (BENCH_RUNS runs each way, default 12)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { ModelProxy } from '../src/model-proxy/model-proxy.js';
import { QUIET_ENV } from '../src/providers/claude-code.js';
import { startFakeAnthropic, type FakeReply, type ScriptContext } from '../test/fixtures/fake-anthropic.js';
import { fmt, median, table, tempDir } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 12);
const API_KEY = 'sk-ant-api03-BENCHMARK-JOB-KEY-000000';

type Side = 'direct' | 'proxied';

export async function benchModelProxyJob(): Promise<string> {
  const root = await tempDir('acw-bench-proxy-job');
  const script = (ctx: ScriptContext): FakeReply =>
    JSON.stringify(ctx.request.body?.messages ?? []).includes('tool_result')
      ? { type: 'text', text: 'Created hello.txt.' }
      : { type: 'tool_use', name: 'Write', input: { file_path: 'hello.txt', content: 'hello\n' } };
  const fake = await startFakeAnthropic(script);
  const proxy = await ModelProxy.start({ upstreams: { anthropic: fake.url, openai: 'http://127.0.0.1:9' }, logger: pino({ level: 'silent' }) });
  const times: Record<Side, number[]> = { direct: [], proxied: [] };
  const calls: Record<Side, number[]> = { direct: [], proxied: [] };
  const loadBefore = os.loadavg()[0]!;
  try {
    // One of each first, unmeasured: the binary's first start pays for the page cache.
    for (let i = -1; i < RUNS; i++) {
      for (const side of i % 2 === 0 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const)) {
        const grant = side === 'proxied' ? proxy.open({ sessionId: `bench-${i}`, credential: { api: 'anthropic', kind: 'apiKey', apiKey: API_KEY } }) : undefined;
        const before = fake.requests.length;
        const ms = await runJob(path.join(root, `${side}-${i}`), grant ? { url: grant.baseUrl, key: grant.token } : { url: fake.url, key: API_KEY });
        grant?.revoke();
        if (i < 0) continue;
        times[side].push(ms);
        calls[side].push(fake.requests.length - before);
      }
    }
  } finally {
    await proxy.close();
    await fake.close();
    await fs.rm(root, { recursive: true, force: true });
  }
  const direct = median(times.direct);
  const proxied = median(times.proxied);
  const rows = (['direct', 'proxied'] as const).map((side) => ({
    path: side,
    'job p50': `${fmt(median(times[side]))} ms`,
    min: `${fmt(Math.min(...times[side]))} ms`,
    max: `${fmt(Math.max(...times[side]))} ms`,
    'model calls per job': median(calls[side]),
  }));
  return [
    `${RUNS} runs each way, taking turns, after one unmeasured run each. Load average (1 min) ${fmt(loadBefore)} before, ` +
      `${fmt(os.loadavg()[0]!)} after, on ${os.cpus().length} CPUs.`,
    '',
    table(rows),
    '',
    `A whole job through the proxy: ${fmt(proxied)} ms against ${fmt(direct)} ms direct (p50): ` +
      `${fmt(proxied / direct, 3)}×, ${fmt(proxied - direct)} ms (${fmt((proxied - direct) / median(calls.proxied))} ms per model call).`,
  ].join('\n');
}

/** One job of the real agent in a fresh workspace and home; its wall time from the query to its result. */
async function runJob(dir: string, model: { url: string; key: string }): Promise<number> {
  const cwd = path.join(dir, 'workspace');
  const home = path.join(dir, 'home');
  await fs.mkdir(cwd, { recursive: true });
  await fs.mkdir(home, { recursive: true, mode: 0o700 });
  const { query } = await import('@anthropic-ai/claude-agent-sdk');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ...QUIET_ENV,
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: model.key,
    // The benchmark runs as root; the worker's agents never do.
    IS_SANDBOX: '1',
  };
  const started = performance.now();
  let ok = false;
  for await (const message of query({ prompt: 'Create hello.txt', options: { cwd, env, permissionMode: 'bypassPermissions', allowDangerouslySkipPermissions: true } })) {
    if (message.type === 'result') {
      ok = message.subtype === 'success' && !message.is_error;
      break;
    }
  }
  const ms = performance.now() - started;
  if (!ok) throw new Error('the benchmark job did not succeed');
  return ms;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('## Model proxy: a whole job (issue #12)\n');
  console.log(await benchModelProxyJob());
}
