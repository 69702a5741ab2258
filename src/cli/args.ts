import { parseArgs } from 'node:util';

/** The CLI's exit codes (README, "Command line"). */
export const EXIT = {
  OK: 0,
  /** The job (or the streamed session) ended with an `error` event other than ABORTED by this CLI. */
  JOB_FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** No credentials for the agent were found. */
  NO_CREDENTIALS: 3,
  /** The worker refused the request (an HTTP error answer) or could not be reached. */
  WORKER_ERROR: 4,
  /** Ctrl-C: the job was aborted on the worker (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

export class UsageError extends Error {}

export const USAGE = `Usage: ai-coding-worker <command> [options]

Commands:
  serve                        run the worker (dist/main.js; the bin builds dist/ first if missing)
  run "<prompt>"               run a job and show its progress
      --provider claude|codex  the agent (default claude)
      --model M                the model
      --repo URL [--branch B]  clone this repository and commit to the session's branch
      --pr                     open or update a pull request after the push
      --resume ID              continue a session
  sessions list [--limit N --offset N]
  sessions show ID
  sessions stream ID [--last-event-id N]
  sessions abort ID
  sessions delete ID

Options:
  --url URL      the worker (env AI_CODING_WORKER_URL, default http://localhost:5000)
  --token T      the worker's bearer token (env WORKER_API_TOKEN)
  --json         machine-readable output: one {"id","event"} JSON object per line
  -h, --help     this help
`;

export interface CliArgs {
  positionals: string[];
  url: string;
  token?: string;
  json: boolean;
  help: boolean;
  provider: 'claude' | 'codex';
  model?: string;
  repo?: string;
  branch?: string;
  pr: boolean;
  resume?: string;
  limit?: number;
  offset?: number;
  lastEventId?: number;
}

/** Parses argv (without `node` and the script) with Node's own `util.parseArgs`; throws UsageError. */
export function parseCliArgs(argv: string[], env: { AI_CODING_WORKER_URL?: string; WORKER_API_TOKEN?: string }): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        provider: { type: 'string' },
        model: { type: 'string' },
        repo: { type: 'string' },
        branch: { type: 'string' },
        pr: { type: 'boolean', default: false },
        resume: { type: 'string' },
        limit: { type: 'string' },
        offset: { type: 'string' },
        'last-event-id': { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const provider = values.provider ?? 'claude';
  if (provider !== 'claude' && provider !== 'codex') throw new UsageError(`--provider must be claude or codex, not ${provider}`);
  if (values.branch !== undefined && values.repo === undefined) throw new UsageError('--branch needs --repo');
  if (values.pr && values.repo === undefined) throw new UsageError('--pr needs --repo');
  const token = values.token ?? env.WORKER_API_TOKEN;
  const args: CliArgs = {
    positionals,
    url: values.url ?? env.AI_CODING_WORKER_URL ?? 'http://localhost:5000',
    json: values.json,
    help: values.help,
    provider,
    pr: values.pr,
  };
  if (token) args.token = token;
  if (values.model !== undefined) args.model = values.model;
  if (values.repo !== undefined) args.repo = values.repo;
  if (values.branch !== undefined) args.branch = values.branch;
  if (values.resume !== undefined) args.resume = values.resume;
  const limit = parseCount('--limit', values.limit);
  const offset = parseCount('--offset', values.offset);
  const lastEventId = parseCount('--last-event-id', values['last-event-id']);
  if (limit !== undefined) args.limit = limit;
  if (offset !== undefined) args.offset = offset;
  if (lastEventId !== undefined) args.lastEventId = lastEventId;
  return args;
}

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, not ${value}`);
  return Number(value);
}
