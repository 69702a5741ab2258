import path from 'node:path';

/**
 * The environment every git command of a job runs with. Nothing is inherited
 * from the worker (whose env holds other secrets) except PATH; configuration
 * that matters is forced through GIT_CONFIG_COUNT, which has "command" scope
 * and so outranks anything the agent may have written into `.git/config`.
 */
export interface GitEnvironment {
  /** For local commands (status, commit, rebase): no credentials at all. */
  local: Record<string, string>;
  /** For clone, fetch and push: `local` plus the token as an HTTP header. */
  network: Record<string, string>;
  /** The strings to register with the Redactor while the job runs. */
  secrets: string[];
}

export interface GitEnvironmentInput {
  homeDir: string;
  repoUrl: string;
  accessToken?: string;
  author?: { name: string; email: string };
}

/**
 * Settings applied to every command. Hooks, fsmonitor, credential helpers and
 * askpass programs would all run *with the token in their environment*, and the
 * agent can write any of them into the repository, so they are switched off.
 * Background gc would outlive the command and race the session archive.
 */
const SAFE_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['core.hooksPath', '/dev/null'],
  ['core.fsmonitor', 'false'],
  ['core.askPass', ''],
  ['credential.helper', ''],
  ['protocol.allow', 'never'],
  ['protocol.https.allow', 'always'],
  ['protocol.http.allow', 'always'],
  ['commit.gpgSign', 'false'],
  ['tag.gpgSign', 'false'],
  ['gc.auto', '0'],
  ['maintenance.auto', 'false'],
  ['advice.detachedHead', 'false'],
  ['init.defaultBranch', 'main'],
];

export function createGitEnvironment(input: GitEnvironmentInput): GitEnvironment {
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: input.homeDir,
    XDG_CONFIG_HOME: path.join(input.homeDir, '.config'),
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    // Stable, parseable messages (e.g. "non-fast-forward", "CONFLICT").
    LC_ALL: 'C',
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    // HOME is the agent's private home, where it can write a ~/.gitconfig of its own.
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    // An empty GIT_ASKPASS disables any askpass program, including core.askPass.
    GIT_ASKPASS: '',
    GIT_EDITOR: 'true',
    GIT_SEQUENCE_EDITOR: 'true',
    GIT_PAGER: 'cat',
  };
  if (input.author) {
    base.GIT_AUTHOR_NAME = input.author.name;
    base.GIT_AUTHOR_EMAIL = input.author.email;
    base.GIT_COMMITTER_NAME = input.author.name;
    base.GIT_COMMITTER_EMAIL = input.author.email;
  }
  const local = withConfig(base, SAFE_CONFIG);
  if (!input.accessToken) return { local, network: local, secrets: [] };

  const basic = Buffer.from(`x-access-token:${input.accessToken}`).toString('base64');
  const header = `Authorization: Basic ${basic}`;
  // Scoped to the repository's origin: a rewritten URL (url.*.insteadOf) or a
  // remote pointing elsewhere never receives the header.
  const scope = `${new URL(input.repoUrl).origin}/`;
  const network = withConfig(base, [...SAFE_CONFIG, [`http.${scope}.extraHeader`, header]]);
  return { local, network, secrets: [input.accessToken, basic, header] };
}

function withConfig(
  env: Record<string, string>,
  entries: ReadonlyArray<readonly [string, string]>,
): Record<string, string> {
  const result: Record<string, string> = { ...env, GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], index) => {
    result[`GIT_CONFIG_KEY_${index}`] = key;
    result[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  return result;
}
