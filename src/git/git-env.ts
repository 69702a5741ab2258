import { isIP } from 'node:net';
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
  // A fetch recurses into submodules by default ("on-demand", also when .gitmodules asks),
  // and each submodule's git directory has a config of its own that the sanitizer never
  // sees: its http.proxy would get the token. Command scope outranks .gitmodules.
  ['submodule.recurse', 'false'],
  ['fetch.recurseSubmodules', 'false'],
  ['push.recurseSubmodules', 'no'],
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
  // Scoped to the repository itself, not its host: a rewritten URL (url.*.insteadOf), a
  // remote pointing elsewhere or a submodule on the same host never receives the header
  // (on GitHub, another repository the token can write to would accept the push).
  const network = withConfig(base, [...SAFE_CONFIG, [`http.${input.repoUrl}.extraHeader`, header]]);
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

/**
 * `http.curloptResolve` entries (git ≥ 2.37) that make git's curl connect to
 * `addresses` for the remote's host and port without asking DNS: with
 * AGENT_NETWORK=proxy-only git runs as the agent's uid, which may reach those
 * addresses and no DNS server (src/isolation/egress.ts). `repoUrl` must be the
 * URL git is given. The entries are scoped to it: git matches `http.<url>.*`
 * against the remote's URL once, and a match as specific as the whole URL
 * beats a generic key, so an agent's `.git/config` could override a generic
 * pin but not this one (equal keys: the command scope comes last). The empty
 * first value clears whatever the agent's config listed before. None for a
 * remote that is an IP address already.
 */
export function pinnedResolveConfig(repoUrl: string, addresses: readonly string[]): Array<[string, string]> {
  const url = new URL(repoUrl);
  const host = url.hostname;
  if (addresses.length === 0 || isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) return [];
  const port = url.port !== '' ? url.port : url.protocol === 'http:' ? '80' : '443';
  const literals = addresses.map((address) => (isIP(address) === 6 ? `[${address}]` : address));
  const key = `http.${repoUrl}.curloptResolve`;
  return [
    [key, ''],
    [key, `${host}:${port}:${literals.join(',')}`],
  ];
}

/** `env` with the remote's host pinned to `addresses` (pinnedResolveConfig) in its local and network environments. */
export function pinRemoteAddresses(env: GitEnvironment, repoUrl: string, addresses: readonly string[]): GitEnvironment {
  const entries = pinnedResolveConfig(repoUrl, addresses);
  const pin = (vars: Record<string, string>): Record<string, string> => {
    const count = Number(vars.GIT_CONFIG_COUNT ?? '0');
    const result: Record<string, string> = { ...vars, GIT_CONFIG_COUNT: String(count + entries.length) };
    entries.forEach(([key, value], index) => {
      result[`GIT_CONFIG_KEY_${count + index}`] = key;
      result[`GIT_CONFIG_VALUE_${count + index}`] = value;
    });
    return result;
  };
  return { local: pin(env.local), network: pin(env.network), secrets: env.secrets };
}
