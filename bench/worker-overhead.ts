/**
 * Issue #2 benchmark: what the worker adds on top of the agent. The same job (one Write tool
 * call, then an answer) runs against the same fake model, once driven directly through the
 * Claude Agent SDK and once through POST /execute; both in this run, alternating.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { startFakeAnthropic } from '../test/fixtures/fake-anthropic.js';
import { executeThroughWorker, fmt, median, rssMiB, startBuiltWorker, table, tempDir, timed } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const API_KEY = 'sk-ant-api03-BENCHMARK-KEY-000000';

export async function benchWorkerOverhead(): Promise<string> {
  const fake = await startFakeAnthropic(({ request }) => {
    const messages = (request.body.messages ?? []) as unknown[];
    return messages.length <= 1
      ? { type: 'tool_use', name: 'Write', input: { file_path: 'bench.txt', content: 'benchmark\n' } }
      : { type: 'text', text: 'Done.' };
  });
  const root = await tempDir('overhead');
  try {
    const startups: number[] = [];
    for (let i = 0; i < 5; i++) {
      const worker = await startBuiltWorker(workerEnv(root, fake.url, `startup-${i}`), 5600 + i);
      startups.push(worker.startupMs);
      await worker.stop();
    }

    const worker = await startBuiltWorker(workerEnv(root, fake.url, 'jobs'), 5610);
    const direct: number[] = [];
    const through: number[] = [];
    const connected: number[] = [];
    let peakRss = 0;
    try {
      await runDirect(root, fake.url, 'warmup');
      await executeThroughWorker(worker.url, jobBody());
      for (let i = 0; i < RUNS; i++) {
        direct.push((await timed(() => runDirect(root, fake.url, String(i)))).ms);
        const result = await executeThroughWorker(worker.url, jobBody(), () => {
          void rssMiB(worker.proc.pid!).then((rss) => (peakRss = Math.max(peakRss, rss ?? 0)));
        });
        if (result.last !== 'completed') throw new Error(`worker job ended with ${result.last}`);
        through.push(result.totalMs);
        connected.push(result.connectedMs);
      }
    } finally {
      await worker.stop();
    }

    const directMs = median(direct);
    const workerMs = median(through);
    return [
      `Runs: ${RUNS} jobs each way (medians), same fake model, same machine, alternating.`,
      '',
      table([
        { metric: 'job wall time, direct SDK (baseline)', value: `${fmt(directMs)} ms` },
        { metric: 'job wall time, through the worker', value: `${fmt(workerMs)} ms` },
        { metric: 'ratio worker / direct', value: fmt(workerMs / directMs, 3) },
        { metric: 'worker adds (target < 100 ms)', value: `${fmt(workerMs - directMs)} ms` },
        { metric: 'time to `connected` (target < 20 ms)', value: `${fmt(median(connected))} ms` },
        { metric: 'start-up to ready /health (target < 500 ms)', value: `${fmt(median(startups))} ms` },
        { metric: 'worker RSS while a job runs (peak, agent excluded)', value: `${fmt(peakRss)} MiB` },
      ]),
    ].join('\n');
  } finally {
    await fake.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

function workerEnv(root: string, modelUrl: string, name: string): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: modelUrl,
    WORKSPACE_DIR: path.join(root, name, 'workspace'),
    SESSIONS_DIR: path.join(root, name, 'sessions'),
  };
}

function jobBody() {
  return { userRequest: 'Write bench.txt', codingAssistantProvider: 'claude', codingAssistantAuthentication: API_KEY };
}

/** The baseline: the same job through the SDK's `query()` directly, with the same agent settings. */
async function runDirect(root: string, modelUrl: string, name: string): Promise<void> {
  const { query } = await import('@anthropic-ai/claude-agent-sdk');
  const cwd = path.join(root, 'direct', name);
  const home = path.join(root, 'direct-home', name);
  await fs.mkdir(cwd, { recursive: true });
  await fs.mkdir(path.join(home, '.claude'), { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: API_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
  };
  if (process.getuid?.() === 0) env.IS_SANDBOX = '1';
  for await (const message of query({
    prompt: 'Write bench.txt',
    options: { cwd, env, permissionMode: 'bypassPermissions', allowDangerouslySkipPermissions: true, settingSources: [] },
  })) {
    if (message.type === 'result') break;
  }
}
