import type { GitClient } from './git-client.js';

// Commands that check out trees other than HEAD's may fetch missing file contents in a
// partial clone. They run without the token (src/git/git-client.ts): a partial clone is
// made only of a repository anyone can read.

/** Creates `branch` at the current HEAD and checks it out. */
export async function createBranch(git: GitClient, repoDir: string, branch: string): Promise<void> {
  await git.check('git switch', ['switch', '--create', branch], { cwd: repoDir });
}

/**
 * Checks out the session's branch in a fresh clone: from the remote when it was
 * pushed before, else created anew from the base branch's tip.
 */
export async function restoreBranch(
  git: GitClient,
  repoDir: string,
  branch: string,
  onRemote: boolean,
): Promise<void> {
  if (onRemote) {
    await git.check('git switch', ['switch', '--force-create', branch, `refs/remotes/origin/${branch}`], { cwd: repoDir });
    await setUpstream(git, repoDir, branch);
  } else {
    await createBranch(git, repoDir, branch);
  }
}

/**
 * Records `origin/<branch>` as the branch's upstream, so that the agent's own
 * `git status` shows ahead/behind. Plain config, no credentials.
 */
export async function setUpstream(git: GitClient, repoDir: string, branch: string): Promise<void> {
  await git.check('git branch', ['branch', `--set-upstream-to=origin/${branch}`, branch], { cwd: repoDir });
}

/** True when `ref` resolves to a commit. */
export async function refExists(git: GitClient, repoDir: string, ref: string): Promise<boolean> {
  const result = await git.run(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: repoDir });
  return result.code === 0;
}

/** Fast-forwards the checked-out branch to `ref` when possible and the tree is clean; reports whether it moved. */
export async function fastForwardIfClean(git: GitClient, repoDir: string, ref: string): Promise<boolean> {
  const status = await git.run(['status', '--porcelain', '--untracked-files=no'], { cwd: repoDir });
  if (status.code !== 0 || status.stdout.trim() !== '') return false;
  const before = await git.run(['rev-parse', 'HEAD'], { cwd: repoDir });
  const merge = await git.run(['merge', '--ff-only', '--quiet', ref], { cwd: repoDir });
  if (merge.code !== 0) return false;
  const after = await git.run(['rev-parse', 'HEAD'], { cwd: repoDir });
  return before.stdout !== after.stdout;
}
