/**
 * The `ai-coding-worker` command (issue #9): `serve`, `run` and `sessions`.
 * The composition root of the CLI: the only file that reads `process.env`,
 * `process.argv` and the process's streams, and passes them on.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createClient, WorkerApiError, WorkerConnectionError } from '../client/index.js';
import { EXIT, parseCliArgs, USAGE, UsageError } from './args.js';
import type { CliContext } from './context.js';
import { runJob } from './run.js';
import { runSessions } from './sessions.js';

async function main(argv: string[]): Promise<number> {
  const err = process.stderr;
  let args;
  try {
    args = parseCliArgs(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err.write(`error USAGE: ${error.message}\n\n${USAGE}`);
    return EXIT.USAGE;
  }
  const command = args.positionals[0];
  if (args.help || command === undefined || command === 'help') {
    (command === undefined && !args.help ? err : process.stdout).write(USAGE);
    return command === undefined && !args.help ? EXIT.USAGE : EXIT.OK;
  }
  if (command === 'serve') return serve();

  const ctx: CliContext = {
    args,
    client: createClient({ baseUrl: args.url, ...(args.token ? { token: args.token } : {}) }),
    env: process.env,
    out: process.stdout,
    err,
    onInterrupt(handler) {
      process.on('SIGINT', handler);
      return () => process.off('SIGINT', handler);
    },
    exit: (code) => process.exit(code),
  };
  try {
    if (command === 'run') return await runJob(ctx);
    if (command === 'sessions') return await runSessions(ctx);
    throw new UsageError(`unknown command: ${command}`);
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`error USAGE: ${error.message}\n\n${USAGE}`);
      return EXIT.USAGE;
    }
    if (error instanceof WorkerApiError) {
      err.write(`error ${error.code}: ${error.message}${error.field ? ` (${error.field})` : ''}\n`);
      return EXIT.WORKER_ERROR;
    }
    if (error instanceof WorkerConnectionError) {
      const resume = error.sessionId ? `; follow it with: ai-coding-worker sessions stream ${error.sessionId}` : '';
      err.write(`error CONNECTION: ${error.message} (${args.url})${resume}\n`);
      return EXIT.WORKER_ERROR;
    }
    throw error;
  }
}

/**
 * `serve`: the built worker, `dist/main.js` beside this bundle (`npm start`
 * runs the same file). `bin/ai-coding-worker` builds dist/ first when it is missing.
 */
async function serve(): Promise<number> {
  const entry = fileURLToPath(new URL('./main.js', import.meta.url));
  if (!import.meta.url.endsWith('/dist/cli.js') || !existsSync(entry)) {
    process.stderr.write('error USAGE: serve runs the built worker: run `npm run build` and use bin/ai-coding-worker (or `npm start`)\n');
    return EXIT.USAGE;
  }
  await import(pathToFileURL(entry).href);
  return -1;
}

const code = await main(process.argv.slice(2));
// -1: `serve` started the worker, which keeps the process alive and exits on its own.
if (code >= 0) process.exit(code);
