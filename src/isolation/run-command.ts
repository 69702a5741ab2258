import { spawn } from 'node:child_process';

/** How a short helper command (chown, setpriv, kill) ended; its stderr, cut to 2,000 characters. */
export interface CommandOutcome {
  code: number | null;
  stderr: string;
}

/** Runs a short helper command to its end; rejects only when it cannot be started. */
export function runCommand(command: string, args: readonly string[]): Promise<CommandOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 2_000) stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr: stderr.trim() }));
  });
}
