import { spawn } from 'node:child_process';

/** The outcome of one git invocation; a non-zero exit is a value, not an exception. */
export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Turns an argv into one that runs it under another identity (e.g. through setpriv). */
export type CommandWrapper = (command: string, args: readonly string[]) => { command: string; args: string[] };

export interface GitRunOptions {
  cwd: string;
  /** Runs git under another identity; as this process when absent. */
  runAs?: CommandWrapper;
  /** The complete environment of the child; nothing is inherited from the worker. */
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Called with every stderr line (split on CR and LF, so progress meters arrive as they update). */
  onStderrLine?: (line: string) => void;
}

/** Grace period between SIGTERM and SIGKILL when a git command is aborted. */
const KILL_GRACE_MS = 2_000;

/**
 * Runs `git <args>` — an argv array, never a shell string — in its own process
 * group, so that an abort stops git and its helpers (remote-https, pack-objects).
 */
export function runGit(args: readonly string[], options: GitRunOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(abortError());
      return;
    }
    const argv = options.runAs ? options.runAs('git', args) : { command: 'git', args: [...args] };
    const child = spawn(argv.command, argv.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let partial = '';
    let killTimer: NodeJS.Timeout | undefined;

    const onAbort = (): void => {
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      if (!options.onStderrLine) return;
      const lines = (partial + chunk.toString('utf8')).split(/[\r\n]/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') options.onStderrLine(line);
    });
    child.stdin.on('error', () => {
      // git may exit before reading its input (e.g. a failed commit); the exit code tells the story.
    });
    child.stdin.end(options.input ?? '');

    child.on('error', (error) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.on('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (options.signal?.aborted) {
        reject(abortError());
        return;
      }
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

/** Thrown by runGit when its signal aborts the command. */
export class GitAbortedError extends Error {
  constructor() {
    super('The git command was aborted.');
    this.name = 'GitAbortedError';
  }
}

function abortError(): GitAbortedError {
  return new GitAbortedError();
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** The last meaningful lines of a git error output, for a human-readable message. */
export function summarizeGitError(result: GitResult, maxLines = 6): string {
  const lines = result.stderr
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^(remote: )?(Counting|Compressing|Receiving|Resolving|Enumerating|Writing|Total|Delta)\b/.test(line));
  const text = lines.slice(-maxLines).join('\n');
  return text || result.stdout.trim().split('\n').slice(-maxLines).join('\n') || `git exited with code ${result.code}`;
}
