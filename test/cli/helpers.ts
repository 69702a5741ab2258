import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../fixtures/worker.js';
import { OAUTH_CREDENTIALS } from '../jobs/helpers.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  proc: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout holds `text`. */
  waitForStdout(text: string): Promise<void>;
  done: Promise<CliResult>;
}

/**
 * Starts the real CLI as a child process: `node --import tsx src/cli/main.ts`, or
 * the bin shim with `{bin: true}`. The env is exactly `env` plus PATH: no
 * credential variable leaks in from the test's own environment.
 */
export function startCli(args: string[], env: Record<string, string>, options: { bin?: boolean } = {}): CliProcess {
  const argv = options.bin ? [join(REPO_ROOT, 'bin', 'ai-coding-worker'), ...args] : ['--import', 'tsx', 'src/cli/main.ts', ...args];
  const proc = spawn(process.execPath, argv, { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters.splice(0)) {
      if (stdout.includes(waiter.text)) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    proc,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForStdout: (text) =>
      stdout.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve })),
    done,
  };
}

export function runCli(args: string[], env: Record<string, string>, options: { bin?: boolean } = {}): Promise<CliResult> {
  return startCli(args, env, options).done;
}

/** Writes Claude Code's login file, `~/.claude/.credentials.json`, into `home`. */
export async function writeClaudeLogin(home: string, credentials: unknown = OAUTH_CREDENTIALS): Promise<void> {
  await mkdir(join(home, '.claude'), { recursive: true });
  await writeFile(join(home, '.claude', '.credentials.json'), JSON.stringify(credentials));
}
