import type { Redactor } from '../secrets/redactor.js';
import { runGit, summarizeGitError, type CommandWrapper, type GitResult } from './git-command.js';
import { createGitEnvironment, pinRemoteAddresses, type GitEnvironment } from './git-env.js';

/** A failed git command, with its output already redacted. */
export class GitCommandError extends Error {
  readonly result: GitResult;

  constructor(action: string, result: GitResult, redactor: Redactor) {
    super(redactor.redact(`${action} failed: ${summarizeGitError(result)}`));
    this.name = 'GitCommandError';
    this.result = { ...result, stdout: redactor.redact(result.stdout), stderr: redactor.redact(result.stderr) };
  }
}

export interface GitCallOptions {
  cwd: string;
  /** Send the access token; only clone, fetch, ls-remote and push ever get it (TRANSFER_COMMANDS). */
  auth?: boolean;
  input?: string;
  onStderrLine?: (line: string) => void;
}

/** Git bound to one job: its environment, its abort signal and its redactor. */
export interface GitClient {
  readonly repoUrl: string;
  /** True when an access token is configured for network commands. */
  readonly authenticated: boolean;
  readonly redactor: Redactor;
  /** Runs git; a non-zero exit is returned, not thrown. Output is not yet redacted. */
  run(args: readonly string[], options: GitCallOptions): Promise<GitResult>;
  /** Runs git and returns trimmed stdout; throws GitCommandError (redacted) on a non-zero exit. */
  check(action: string, args: readonly string[], options: GitCallOptions): Promise<string>;
}

export interface GitClientInput {
  homeDir: string;
  /** Runs each command under another identity (the job's agent user); as the worker when absent. */
  runAs?: CommandWrapper;
  repoUrl: string;
  accessToken?: string;
  author?: { name: string; email: string };
  signal: AbortSignal;
  redactor: Redactor;
  /** The remote's addresses as the worker resolved them: git connects to these, without DNS (AGENT_NETWORK=proxy-only). */
  pinnedAddresses?: readonly string[];
}

/**
 * The commands that talk to the remote themselves, in the repository whose config the
 * worker sanitized. Any other command (switch, merge, rebase) reaches the network only
 * through the lazy fetch of a partial clone, and that can run in another repository:
 * merge-ort opens a submodule's repository under .git/modules, which no sanitizer reads,
 * to merge a gitlink, and fetches missing commits with that repository's config, whose
 * http.proxy then got the token (test/git/hostile-config.test.ts). Those commands run
 * without the token: a partial clone is only made of a repository anyone can read
 * (chooseCloneStrategy), so its lazy fetches need none.
 */
const TRANSFER_COMMANDS: ReadonlySet<string> = new Set(['clone', 'fetch', 'ls-remote', 'push']);

/** Creates the client and registers its secrets; call `release` when the phase ends. */
export function createGitClient(input: GitClientInput): { git: GitClient; release: () => void } {
  const created = createGitEnvironment(input);
  const env: GitEnvironment = input.pinnedAddresses ? pinRemoteAddresses(created, input.repoUrl, input.pinnedAddresses) : created;
  const release = input.redactor.add(env.secrets);
  const run = (args: readonly string[], options: GitCallOptions): Promise<GitResult> =>
    runGit(args, {
      cwd: options.cwd,
      env: options.auth && TRANSFER_COMMANDS.has(args[0] ?? '') ? env.network : env.local,
      runAs: input.runAs,
      signal: input.signal,
      input: options.input,
      onStderrLine: options.onStderrLine,
    });
  const git: GitClient = {
    repoUrl: input.repoUrl,
    authenticated: Boolean(input.accessToken),
    redactor: input.redactor,
    run,
    async check(action, args, options) {
      const result = await run(args, options);
      if (result.code !== 0) throw new GitCommandError(action, result, input.redactor);
      return result.stdout.trim();
    },
  };
  return { git, release };
}
