/**
 * The job's git phases (issue #3): check out the repository before the agent
 * runs, commit/push/pull-request after it. The job runner calls the two
 * exported functions; everything else in src/git is their machinery.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { JobError } from '../errors/worker-error.js';
import type { EventInput } from '../events/registry.js';
import type { Redactor } from '../secrets/redactor.js';
import { createBranch, fastForwardIfClean, refExists, restoreBranch, setUpstream } from './branch.js';
import { chooseCloneStrategy, cloneRepository, currentBranch, fetchBranches, isRepository } from './clone.js';
import { commitStaged, generateCommitMessage, stageAll } from './commit.js';
import { createGitClient, GitCommandError, type GitClient } from './git-client.js';
import { GitAbortedError, type CommandWrapper } from './git-command.js';
import { nameSession, sessionBranchName, type GenerateText } from './naming.js';
import { createOrUpdatePullRequest, type PullRequestOptions } from './pull-request.js';
import { countUnpushed, pushBranch } from './push.js';
import { sanitizeRepoConfig } from './repo-config.js';
import { parseRepoUrl } from './repo-url.js';

export interface RepositoryContext {
  sessionId: string;
  /** The session's workspace folder; the clone goes into `<workspaceDir>/<repo name>`. */
  workspaceDir: string;
  github: { repoUrl: string; branch?: string; directory?: string; accessToken?: string };
  /** From the stored session metadata when resuming (see `RepositoryMetadata`). */
  previous?: { branch?: string; baseBranch?: string; repoDir?: string };
  /** 'claude' | 'codex': the first segment of the session branch. */
  providerPrefix: string;
  userRequestText: string;
  gitAuthor: { name: string; email: string };
  /** The job's private temp home (mode 0700); git's HOME. Nothing secret is written to it. */
  homeDir: string;
  /** Wraps each git command so it runs as the job's agent user (see src/isolation). */
  runAs?: CommandWrapper;
  emit: (event: EventInput) => void;
  redactor: Redactor;
  signal: AbortSignal;
  generateText?: GenerateText;
  githubApiUrl: string;
  pullRequest?: PullRequestOptions;
  /** The remote's addresses as the worker resolved them, when git may not use DNS (AGENT_NETWORK=proxy-only). */
  pinnedAddresses?: readonly string[];
}

export interface CheckoutResult {
  /** Absolute path of the clone. */
  repoDir: string;
  /** `repoDir` relative to `workspaceDir`: persist this as `previous.repoDir`. */
  repoPath: string;
  /** Where the agent runs: `repoDir`, or its `github.directory` inside it. */
  agentCwd: string;
  /** The session's branch: persist as `previous.branch`. */
  branch: string;
  /** The branch the session branch was made from: persist as `previous.baseBranch`. */
  baseBranch: string;
  /** The session's title, when this turn named it (new sessions only). */
  title?: string;
}

export interface CommitResult {
  /** The commit this turn made or pushed (kept locally even when the push failed). */
  commitHash?: string;
  pushed: boolean;
  branch: string;
}

/**
 * Clones (new session, or a resumed one whose workspace is gone) or fetches
 * (resumed session) the repository and puts it on the session's branch,
 * creating and naming that branch for a new session.
 * Throws JobError('GITHUB_ERROR') with a redacted message on failure
 * (JobError('ABORTED') when `ctx.signal` aborts).
 */
export async function checkoutRepository(ctx: RepositoryContext): Promise<CheckoutResult> {
  const { git, release } = gitClientFor(ctx);
  try {
    return await checkout(ctx, git, redactingEmit(ctx));
  } catch (error) {
    throw toJobError(error, ctx);
  } finally {
    release();
  }
}

function gitClientFor(ctx: RepositoryContext): ReturnType<typeof createGitClient> {
  return createGitClient({
    homeDir: ctx.homeDir,
    runAs: ctx.runAs,
    repoUrl: ctx.github.repoUrl,
    accessToken: ctx.github.accessToken,
    author: ctx.gitAuthor,
    signal: ctx.signal,
    redactor: ctx.redactor,
    pinnedAddresses: ctx.pinnedAddresses,
  });
}

/**
 * After the agent: commits any change with a generated message, pushes the
 * session branch (rebasing onto remote changes, never forcing) and, when asked,
 * creates or updates the pull request. A failed push or pull request is
 * reported as events, not thrown; a failed commit throws JobError('GITHUB_ERROR').
 */
export async function commitAndPush(ctx: RepositoryContext, checkout: CheckoutResult): Promise<CommitResult> {
  const { git, release } = gitClientFor(ctx);
  try {
    return await commitPushAndOpen(ctx, checkout, git, redactingEmit(ctx));
  } catch (error) {
    throw toJobError(error, ctx);
  } finally {
    release();
  }
}

type Emit = (event: EventInput) => void;

async function checkout(ctx: RepositoryContext, git: GitClient, emit: Emit): Promise<CheckoutResult> {
  const repoDir = resolveRepoDir(ctx);
  const repoPath = path.relative(ctx.workspaceDir, repoDir);
  const progress = (message: string): void => emit({ type: 'github_pull_progress', data: { type: 'message', message } });
  const previousBranch = ctx.previous?.branch;
  let branch: string | undefined;
  let baseBranch: string;
  let title: string | undefined;

  if (await isRepository(repoDir)) {
    progress(`Fetching ${ctx.github.repoUrl}`);
    await sanitizeConfig(git, repoDir, emit);
    const current = await currentBranch(git, repoDir);
    baseBranch = ctx.previous?.baseBranch ?? ctx.github.branch ?? (await remoteDefaultBranch(git, repoDir)) ?? current ?? 'main';
    branch = previousBranch ?? (current !== baseBranch ? current : undefined);
    const onRemote = await fetchBranches(git, repoDir, branch ? [baseBranch, branch] : [baseBranch]);
    if (branch && current !== branch) {
      const switched = await git.run(['switch', branch], { cwd: repoDir, auth: true });
      if (switched.code !== 0) throw new GitCommandError(`Switching to the session branch ${branch}`, switched, git.redactor);
    }
    if (branch && onRemote.has(branch) && (await fastForwardIfClean(git, repoDir, `refs/remotes/origin/${branch}`))) {
      progress(`Fast-forwarded ${branch} to the remote branch`);
    }
  } else {
    await assertCloneTarget(repoDir);
    const cloneBranch = ctx.previous?.baseBranch ?? ctx.github.branch;
    // Not from the workspace: an earlier agent may have made it a repository whose config
    // (url.*.insteadOf, http.proxy) would steer the probe. `/` is no agent's to write.
    const strategy = await chooseCloneStrategy(git, '/');
    const how = strategy === 'partial' ? 'partial clone, file history fetched on demand' : 'full clone';
    progress(`Cloning ${ctx.github.repoUrl}${cloneBranch ? ` (branch ${cloneBranch})` : ''} (${how})`);
    ({ baseBranch } = await cloneRepository(git, { repoDir, branch: cloneBranch, strategy, onProgress: progress }));
    if (previousBranch) {
      // A resumed session whose workspace is gone: back onto its branch.
      const onRemote = await fetchBranches(git, repoDir, [previousBranch]);
      await restoreBranch(git, repoDir, previousBranch, onRemote.has(previousBranch));
      branch = previousBranch;
      progress(
        onRemote.has(previousBranch)
          ? `Re-cloned the repository onto the session branch ${branch}`
          : `Re-cloned the repository; the session branch ${branch} was never pushed, so it starts again from ${baseBranch}`,
      );
    }
  }
  emit({ type: 'github_pull_progress', data: { type: 'completed', message: 'Repository ready', targetPath: repoPath } });

  if (!branch) {
    const name = await nameSession(ctx.userRequestText, ctx.generateText);
    branch = sessionBranchName(ctx.providerPrefix, name.slug, ctx.sessionId);
    if (await refExists(git, repoDir, `refs/heads/${branch}`)) {
      await git.check('git switch', ['switch', branch], { cwd: repoDir });
    } else {
      await createBranch(git, repoDir, branch);
    }
    title = name.title;
    emit({ type: 'branch_created', branchName: branch, baseBranch, message: `Created branch ${branch} from ${baseBranch}` });
    emit({ type: 'session_name', sessionName: title, branchName: branch });
  }

  const agentCwd = await resolveAgentCwd(repoDir, ctx.github.directory);
  return { repoDir, repoPath, agentCwd, branch, baseBranch, title };
}

async function commitPushAndOpen(
  ctx: RepositoryContext,
  checkout: CheckoutResult,
  git: GitClient,
  emit: Emit,
): Promise<CommitResult> {
  const { repoDir, branch, baseBranch } = checkout;
  const stage = (event: Omit<EventInput & { type: 'commit_progress' }, 'type' | 'branch'>): void =>
    emit({ type: 'commit_progress', branch, ...event });

  stage({ stage: 'analyzing', message: 'Checking the working tree for changes' });
  await sanitizeConfig(git, repoDir, emit);
  const head = await currentBranch(git, repoDir);
  if (head !== branch) {
    emit({
      type: 'message',
      message: `The agent left the repository on ${head ?? 'a detached HEAD'}; its commits are pushed to the session branch ${branch}`,
    });
  }

  let commitHash: string | undefined;
  // Staging first and reading the staged list answers "did anything change?" in one pass over the tree.
  const changes = await stageAll(git, repoDir);
  if (changes.length > 0) {
    stage({ stage: 'generating_message', message: `Writing a commit message for ${changes.length} changed file(s)` });
    const generated = await generateCommitMessage(git, repoDir, changes, ctx.userRequestText, ctx.generateText);
    const commitMessage = ctx.redactor.redact(generated.message);
    stage({ stage: 'committing', message: 'Committing', commitMessage });
    commitHash = await commitStaged(git, repoDir, commitMessage);
    stage({ stage: 'committed', message: `Committed ${commitHash.slice(0, 12)}`, commitMessage, commitHash });
  }

  // Commits the agent made itself, or a commit whose push failed on an earlier turn.
  const unpushed = commitHash
    ? 1
    : await countUnpushed(git, repoDir, [`refs/remotes/origin/${branch}`, `refs/remotes/origin/${baseBranch}`]);
  if (!commitHash && unpushed === 0) {
    stage({ stage: 'completed', message: 'No changes to commit' });
    return { pushed: false, branch };
  }
  if (!commitHash) {
    commitHash = await git.check('git rev-parse', ['rev-parse', 'HEAD'], { cwd: repoDir });
    stage({ stage: 'committed', message: `No new changes; pushing ${unpushed} earlier commit(s)`, commitHash });
  }

  stage({ stage: 'pushing', message: `Pushing ${branch}`, commitHash });
  const outcome = await pushBranch(git, repoDir, branch, commitHash);
  commitHash = outcome.commitHash;
  if (outcome.ok) {
    await setUpstream(git, repoDir, branch).catch(() => undefined);
    const how = outcome.rebased ? 'Rebased onto new remote commits and pushed' : 'Pushed';
    stage({ stage: 'pushed', message: `${how} ${branch}`, commitHash });
  } else {
    stage({ stage: 'push_failed', message: `Push of ${branch} failed; the commit is kept locally`, commitHash, error: outcome.error });
  }
  stage({ stage: 'completed', message: outcome.ok ? 'Changes committed and pushed' : 'Changes committed (not pushed)', commitHash });

  if (outcome.ok && ctx.pullRequest) await openPullRequest(ctx, checkout, commitHash, git, emit);
  return { commitHash, pushed: outcome.ok, branch };
}

async function openPullRequest(
  ctx: RepositoryContext,
  checkout: CheckoutResult,
  commitHash: string,
  git: GitClient,
  emit: Emit,
): Promise<void> {
  const token = ctx.github.accessToken;
  if (!token) {
    emit({ type: 'message', message: 'Pull request skipped: it needs a GitHub access token.' });
    return;
  }
  const subject = await git.run(['log', '-1', '--format=%s', commitHash], { cwd: checkout.repoDir });
  try {
    const pr = await createOrUpdatePullRequest({
      apiUrl: ctx.githubApiUrl,
      repoUrl: ctx.github.repoUrl,
      token,
      branch: checkout.branch,
      baseBranch: checkout.baseBranch,
      defaultTitle: checkout.title ?? (subject.stdout.trim() || `Changes from session ${ctx.sessionId}`),
      defaultBody: defaultPullRequestBody(ctx),
      options: ctx.pullRequest ?? {},
      signal: ctx.signal,
    });
    emit({ type: 'pull_request', url: pr.url, number: pr.number, action: pr.action });
  } catch (error) {
    if (ctx.signal.aborted) throw new GitAbortedError();
    emit({ type: 'message', message: `Pull request failed: ${error instanceof Error ? error.message : String(error)}` });
  }
}

function defaultPullRequestBody(ctx: RepositoryContext): string {
  const request = ctx.userRequestText.trim().slice(0, 2_000);
  const quoted = request
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
  return `Changes made by the ${ctx.providerPrefix} coding agent in session \`${ctx.sessionId}\`.\n\n**Request**\n\n${quoted}\n`;
}

/** `previous.repoDir` when it is inside the workspace (relative, or absolute from the same worker); else `<workspace>/<repo>`. */
function resolveRepoDir(ctx: RepositoryContext): string {
  const fallback = path.join(ctx.workspaceDir, parseRepoUrl(ctx.github.repoUrl).folderName);
  const stored = ctx.previous?.repoDir;
  if (!stored) return fallback;
  const candidate = path.resolve(ctx.workspaceDir, stored);
  return isInside(ctx.workspaceDir, candidate) && candidate !== path.resolve(ctx.workspaceDir) ? candidate : fallback;
}

async function resolveAgentCwd(repoDir: string, directory: string | undefined): Promise<string> {
  if (!directory) return repoDir;
  const cwd = path.resolve(repoDir, directory);
  if (!isInside(repoDir, cwd)) throw new JobError('VALIDATION_ERROR', 'github.directory must be inside the repository.');
  await fs.mkdir(cwd, { recursive: true });
  return cwd;
}

async function assertCloneTarget(repoDir: string): Promise<void> {
  const entries = await fs.readdir(repoDir).catch(() => []);
  if (entries.length > 0) {
    throw new JobError('GITHUB_ERROR', `The workspace folder ${path.basename(repoDir)} exists but is not a git repository.`);
  }
}

async function remoteDefaultBranch(git: GitClient, repoDir: string): Promise<string | undefined> {
  const result = await git.run(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], { cwd: repoDir });
  const ref = result.stdout.trim();
  return result.code === 0 && ref.startsWith('origin/') ? ref.slice('origin/'.length) : undefined;
}

function isInside(parent: string, child: string): boolean {
  const relative = path.relative(path.resolve(parent), child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Removes repository settings that could leak the token or redirect git, before git runs with it. */
async function sanitizeConfig(git: GitClient, repoDir: string, emit: Emit): Promise<void> {
  const removed = await sanitizeRepoConfig(git, repoDir);
  if (removed.length > 0) {
    emit({ type: 'message', message: `Removed repository git settings the worker does not allow: ${removed.join(', ')}` });
  }
}

function redactingEmit(ctx: RepositoryContext): Emit {
  return (event) => ctx.emit(ctx.redactor.redactValue(event));
}

function toJobError(error: unknown, ctx: RepositoryContext): JobError {
  if (ctx.signal.aborted || error instanceof GitAbortedError) return new JobError('ABORTED', 'The job was aborted.');
  if (error instanceof JobError) return new JobError(error.code, ctx.redactor.redact(error.message));
  const message = error instanceof Error ? error.message : String(error);
  return new JobError('GITHUB_ERROR', ctx.redactor.redact(message));
}
