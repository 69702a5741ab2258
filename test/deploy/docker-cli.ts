import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The agents' uids in the test's containers. Not the default: the test suite's workers on
 * this host isolate agents with uids from 61000, and their kill(-1) as such a uid reaches
 * that uid's processes in containers too (PID namespaces nest under the host's).
 */
export const AGENT_UID_RANGE = '63000-63999';

/** Where each run keeps the containers' logs (read them when a test fails). */
export const LOG_DIR = process.env.DEPLOY_LOG_DIR ?? '/tmp/acw-deploy-logs';

/** Writes `text` to LOG_DIR/`name`.log. */
export async function saveLog(name: string, text: string): Promise<void> {
  await fs.mkdir(LOG_DIR, { recursive: true });
  await fs.writeFile(path.join(LOG_DIR, `${name}.log`), text);
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Show the command's stderr as it runs (long builds), instead of only on failure. */
  showStderr?: boolean;
  /** Resolve with the result instead of rejecting on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command from the repository root; rejects with its output when it fails. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 15 * 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.showStderr) process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code === 0 || options.allowFailure) resolve(result);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${result.code}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`));
    });
  });
}

/** `docker …`; stdout trimmed. */
export async function docker(args: string[], options: RunOptions = {}): Promise<string> {
  return (await run('docker', args, options)).stdout.trim();
}

/** `docker …` that may fail (cleanup); never rejects. */
export async function dockerQuiet(args: string[]): Promise<RunResult> {
  return run('docker', args, { allowFailure: true }).catch((error: Error) => ({ code: -1, stdout: '', stderr: error.message }));
}

/** A compose project: docker-compose v1 (the test's machines have it), with the given files and environment. */
export function composeProject(project: string, files: string[], env: Record<string, string>) {
  const base = ['-p', project, ...files.flatMap((file) => ['-f', file])];
  return {
    project,
    run: (args: string[], options: RunOptions = {}) => run('docker-compose', [...base, ...args], { ...options, env: { ...env, ...options.env } }),
    /** Container ids of a service (running or not). */
    async containers(service: string): Promise<string[]> {
      const out = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
      return out.split('\n').filter(Boolean);
    },
    /** Saves every container's log to LOG_DIR (unless told not to), then removes containers, networks and volumes. */
    async down({ saveLogs = true } = {}) {
      if (saveLogs) {
        const logs = await run('docker-compose', [...base, 'logs', '--no-color', '--timestamps'], { env, allowFailure: true });
        await saveLog(project, logs.stdout);
      }
      return run('docker-compose', [...base, 'down', '-v', '--remove-orphans', '-t', '5'], { env, allowFailure: true });
    },
  };
}

export type ComposeProject = ReturnType<typeof composeProject>;

/** `docker inspect` of one object as JSON. */
export async function inspect<T = Record<string, any>>(id: string): Promise<T> {
  return (JSON.parse(await docker(['inspect', id])) as T[])[0]!;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function poll<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A JSON GET with a deadline. Node 20's fetch can wait forever on a connection that
 * docker-proxy accepts and closes while the container is not listening yet.
 */
export async function getJson(url: string, token?: string): Promise<{ status: number; json: any }> {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

/** An HTTP GET from inside a container (bash's /dev/tcp: the worker image has no curl). */
export async function httpGetInContainer(container: string, path: string, port = 5000): Promise<{ status: number; body: string }> {
  const script = `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && cat <&3`;
  const out = await docker(['exec', container, 'bash', '-c', script]);
  const status = Number(/^HTTP\/1\.[01] (\d+)/.exec(out)?.[1] ?? 0);
  return { status, body: out.slice(out.indexOf('\r\n\r\n') + 4) };
}

/** Keeps named durations and prints them as a table. */
export class Timings {
  private readonly rows: Array<[string, number]> = [];
  private readonly started = performance.now();

  async measure<T>(name: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    step(`${name} …`);
    try {
      return await work();
    } finally {
      const ms = performance.now() - start;
      step(`${name}: ${(ms / 1000).toFixed(1)} s`);
      this.rows.push([name, ms]);
    }
  }

  record(name: string, ms: number): void {
    step(`${name}: ${(ms / 1000).toFixed(1)} s`);
    this.rows.push([name, ms]);
  }

  report(): string {
    const width = Math.max(...this.rows.map(([name]) => name.length), 5);
    const lines = this.rows.map(([name, ms]) => `  ${name.padEnd(width)}  ${(ms / 1000).toFixed(1).padStart(6)} s`);
    lines.push(`  ${'total'.padEnd(width)}  ${((performance.now() - this.started) / 1000).toFixed(1).padStart(6)} s`);
    return `deployment test timings:\n${lines.join('\n')}`;
  }
}

const started = performance.now();
/** A progress line on stderr, so a CI log shows where a run is. */
export function step(message: string): void {
  process.stderr.write(`[deploy ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}
