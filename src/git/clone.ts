import fs from 'node:fs/promises';
import path from 'node:path';
import type { GitClient } from './git-client.js';

/**
 * Large repositories: a blobless partial clone (`--filter=blob:none`) fetches
 * every commit and tree but only the file contents of the checked-out commit;
 * other blobs are fetched from `origin` when first needed. History,
 * merge-base, rebase and push behave as in a full clone (a shallow clone would
 * break them). A server without filter support answers with a full clone.
 */
export const CLONE_FILTER = 'blob:none';

/**
 * `partial` only where every later lazy fetch can succeed: the agent runs git
 * without the token, so its `git log -p` or `git blame` in a private
 * repository would fail on a missing blob. Hence: partial when the repository
 * can be read anonymously, full otherwise.
 */
export type CloneStrategy = 'partial' | 'full';

export async function chooseCloneStrategy(git: GitClient, cwd: string): Promise<CloneStrategy> {
  if (!git.authenticated) return 'partial';
  // Anonymous probe; a v2 server only lists refs matching the (absent) prefix, so this is cheap.
  const probe = await git.run(['ls-remote', '--heads', '--', git.repoUrl, 'refs/heads/acw-anonymous-probe'], { cwd });
  return probe.code === 0 ? 'partial' : 'full';
}

export interface CloneOptions {
  repoDir: string;
  /** The branch to check out; the remote's default branch when omitted. */
  branch?: string;
  strategy: CloneStrategy;
  onProgress: (message: string) => void;
}

/** Clones the repository; returns the branch that was checked out. */
export async function cloneRepository(git: GitClient, options: CloneOptions): Promise<{ baseBranch: string }> {
  const parent = path.dirname(options.repoDir);
  await fs.mkdir(parent, { recursive: true });
  const args = ['clone', '--progress', '--origin', 'origin'];
  if (options.strategy === 'partial') args.push(`--filter=${CLONE_FILTER}`);
  if (options.branch) args.push('--branch', options.branch);
  args.push('--', git.repoUrl, options.repoDir);
  await git.check('git clone', args, { cwd: parent, auth: true, onStderrLine: progressReporter(options.onProgress) });
  const baseBranch = await currentBranch(git, options.repoDir);
  return { baseBranch: baseBranch ?? options.branch ?? 'main' };
}

/**
 * Fetches the named branches into `refs/remotes/origin/*` and returns those the
 * remote has. Fetches go to `repoUrl` itself, never to the `origin` remote's
 * configured URL, which the agent could have changed.
 */
export async function fetchBranches(git: GitClient, repoDir: string, branches: readonly string[]): Promise<Set<string>> {
  const wanted = [...new Set(branches)];
  const listing = await git.check(
    'git ls-remote',
    ['ls-remote', '--heads', '--', git.repoUrl, ...wanted.map((branch) => `refs/heads/${branch}`)],
    { cwd: repoDir, auth: true },
  );
  const present = new Set(
    listing
      .split('\n')
      .map((line) => line.split('\t')[1]?.replace(/^refs\/heads\//, ''))
      .filter((branch): branch is string => branch !== undefined && wanted.includes(branch)),
  );
  if (present.size === 0) return present;
  const refspecs = [...present].map((branch) => `+refs/heads/${branch}:refs/remotes/origin/${branch}`);
  await git.check('git fetch', ['fetch', '--no-tags', '--', git.repoUrl, ...refspecs], { cwd: repoDir, auth: true });
  return present;
}

/** The checked-out branch, or undefined when HEAD is detached. */
export async function currentBranch(git: GitClient, repoDir: string): Promise<string | undefined> {
  const result = await git.run(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: repoDir });
  const branch = result.stdout.trim();
  return result.code === 0 && branch !== '' ? branch : undefined;
}

/** True when `dir` is the top of a git work tree. */
export async function isRepository(dir: string): Promise<boolean> {
  try {
    await fs.stat(path.join(dir, '.git'));
    return true;
  } catch {
    return false;
  }
}

/** The client-side phases (the server's "remote: ..." phases are not reported). */
const PROGRESS_LINE = /^(Receiving objects|Resolving deltas|Updating files):\s+(\d{1,3})%(.*)$/;
const PROGRESS_STEP = 25;

/** Turns git's progress meter into a few messages per phase: its start, every 25 %, and its end. */
function progressReporter(report: (message: string) => void): (line: string) => void {
  let phase = '';
  let nextPercent = 0;
  return (line) => {
    const match = PROGRESS_LINE.exec(line.trim());
    if (!match) return;
    const [, name = '', digits = '0', rest = ''] = match;
    const percent = Number(digits);
    if (name !== phase) {
      phase = name;
      nextPercent = 0;
    }
    if (percent < nextPercent) return;
    nextPercent = percent >= 100 ? Infinity : (Math.floor(percent / PROGRESS_STEP) + 1) * PROGRESS_STEP;
    report(`${name}: ${percent}%${percent >= 100 ? rest.replace(/,\s*done\.?$/, ', done').trimEnd() : ''}`);
  };
}
