import { fetchBranches } from './clone.js';
import type { GitClient } from './git-client.js';
import { summarizeGitError, type GitResult } from './git-command.js';

export type PushOutcome =
  | { ok: true; commitHash: string; rebased: boolean }
  | { ok: false; error: string; commitHash: string; conflict: boolean };

/**
 * Pushes HEAD to `refs/heads/<branch>` of `repoUrl`, never forcing. When the
 * remote branch has moved, fetches it, rebases the session's commits onto it
 * and pushes again; a conflicting rebase is aborted (the local commit stays)
 * and reported. Never throws for a rejected or failed push.
 */
export async function pushBranch(git: GitClient, repoDir: string, branch: string, knownHead?: string): Promise<PushOutcome> {
  let rebased = false;
  for (let attempt = 1; ; attempt++) {
    const result = await push(git, repoDir, branch);
    // HEAD only moves when a rebase ran; otherwise the caller's hash is current.
    const head = !rebased && knownHead ? knownHead : await headHash(git, repoDir);
    if (result.code === 0) {
      // Pushing to a URL does not move the remote-tracking ref; keep it current for the next turn.
      await git.run(['update-ref', `refs/remotes/origin/${branch}`, head], { cwd: repoDir });
      return { ok: true, commitHash: head, rebased };
    }
    if (!isNonFastForward(result) || attempt > 2) {
      return { ok: false, error: git.redactor.redact(`git push failed: ${summarizeGitError(result)}`), commitHash: head, conflict: false };
    }
    const rebase = await rebaseOnRemote(git, repoDir, branch);
    if (!rebase.ok) return { ok: false, error: rebase.error, commitHash: head, conflict: rebase.conflict };
    rebased = true;
  }
}

function push(git: GitClient, repoDir: string, branch: string): Promise<GitResult> {
  return git.run(['push', '--porcelain', '--no-verify', '--', git.repoUrl, `HEAD:refs/heads/${branch}`], {
    cwd: repoDir,
    auth: true,
  });
}

function isNonFastForward(result: GitResult): boolean {
  const text = `${result.stdout}\n${result.stderr}`;
  return /\[rejected\]/.test(text) && /(fetch first|non-fast-forward)/.test(text);
}

async function rebaseOnRemote(
  git: GitClient,
  repoDir: string,
  branch: string,
): Promise<{ ok: true } | { ok: false; error: string; conflict: boolean }> {
  try {
    await fetchBranches(git, repoDir, [branch]);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error), conflict: false };
  }
  const upstream = `refs/remotes/origin/${branch}`;
  // Without the token, though a partial clone may fetch missing contents here: that fetch can
  // run in a submodule repository the agent planted (git-client.ts, TRANSFER_COMMANDS).
  const rebase = await git.run(['rebase', '--no-autostash', upstream], { cwd: repoDir });
  if (rebase.code === 0) return { ok: true };

  const conflicted = await git.run(['diff', '--name-only', '--diff-filter=U'], { cwd: repoDir });
  await git.run(['rebase', '--abort'], { cwd: repoDir });
  const files = conflicted.stdout.trim().split('\n').filter(Boolean);
  const error = files.length
    ? `The remote branch ${branch} has new commits that conflict with this session's changes ` +
      `(conflicting files: ${files.join(', ')}). The commit was kept locally and nothing was force-pushed; ` +
      'resolve the conflict (e.g. ask the agent to merge the remote branch) and push again.'
    : `Rebasing onto the remote branch ${branch} failed: ${summarizeGitError(rebase)}. The commit was kept locally.`;
  return { ok: false, error: git.redactor.redact(error), conflict: files.length > 0 };
}

async function headHash(git: GitClient, repoDir: string): Promise<string> {
  return git.check('git rev-parse', ['rev-parse', 'HEAD'], { cwd: repoDir });
}

/** Number of commits on HEAD that the first existing ref of `refs` does not have. */
export async function countUnpushed(git: GitClient, repoDir: string, refs: readonly string[]): Promise<number> {
  const existing: string[] = [];
  for (const ref of refs) {
    const check = await git.run(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: repoDir });
    if (check.code === 0) {
      existing.push(ref);
      break;
    }
  }
  const head = await git.run(['rev-parse', '--verify', '--quiet', 'HEAD'], { cwd: repoDir });
  if (head.code !== 0) return 0;
  const args = ['rev-list', '--count', 'HEAD'];
  if (existing.length) args.push('--not', ...existing);
  const result = await git.run(args, { cwd: repoDir });
  return result.code === 0 ? Number(result.stdout.trim()) || 0 : 0;
}
