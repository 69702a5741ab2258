import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Small helpers shared by the benchmarks: timing, statistics, a worker process, a table. */

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export async function timed<T>(action: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await action();
  return { ms: performance.now() - started, value };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `acw-bench-${prefix}-`));
}

/** Resident memory of a process in MiB, from /proc. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : undefined;
}

export interface BenchWorker {
  url: string;
  proc: ChildProcess;
  /** From spawn to the first 200 from /health. */
  startupMs: number;
  stop(): Promise<void>;
}

/** Starts the built worker (`dist/main.js`) and polls /health until it answers. */
export async function startBuiltWorker(env: Record<string, string>, port: number): Promise<BenchWorker> {
  const started = performance.now();
  const proc = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/main.js')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, proc);
  const startupMs = performance.now() - started;
  return {
    url,
    proc,
    startupMs,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    },
  };
}

/** Polls `url`/health every 2 ms until it answers 200; throws if `proc` exits first. */
export async function waitForHealth(url: string, proc: ChildProcess): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`worker exited with ${proc.exitCode}`);
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Runs a job through POST /execute; returns time to `connected`, total time and the final event type. */
export async function executeThroughWorker(
  url: string,
  body: unknown,
  onProgress?: () => void,
): Promise<{ connectedMs: number; totalMs: number; last: string }> {
  const started = performance.now();
  const res = await fetch(`${url}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok || !res.body) throw new Error(`execute answered ${res.status}: ${await res.text()}`);
  let connectedMs = -1;
  let last = '';
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').find((line) => line.startsWith('data: '));
      if (!data) continue;
      const type = (JSON.parse(data.slice(6)) as { type: string }).type;
      if (type === 'connected' && connectedMs < 0) connectedMs = performance.now() - started;
      last = type;
      onProgress?.();
    }
  }
  return { connectedMs, totalMs: performance.now() - started, last };
}

export function table(rows: Array<Record<string, string | number>>): string {
  const headers = Object.keys(rows[0] ?? {});
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map((row) => line(headers.map((key) => row[key] ?? '')))].join('\n');
}

export const fmt = (value: number, digits = 1) => value.toFixed(digits);
