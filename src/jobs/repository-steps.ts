import path from 'node:path';
import { JobError } from '../errors/worker-error.js';
import { checkoutRepository, commitAndPush, type CheckoutResult, type CommitResult, type RepositoryContext } from '../git/repository-phase.js';
import { resolveRemote } from '../isolation/egress.js';
import type { UserRequest } from '../providers/types.js';
import type { SessionMetadata } from '../storage/types.js';
import type { Job } from './job.js';
import type { ModelAccess } from './model-access.js';
import type { JobDeps } from './run-job.js';

/** The git side of a job: what the job runner hands to src/git, and what it keeps of the answer. */
export class RepositorySteps {
  private readonly context: RepositoryContext;
  private closeRemote: (() => Promise<void>) | undefined;

  constructor(
    private readonly job: Job,
    workspaceDir: string,
    homeDir: string,
    private readonly deps: JobDeps,
    access: ModelAccess,
  ) {
    const { request } = job;
    const github = request.github!;
    const provider = request.provider;
    const previous = job.previous;
    this.context = {
      sessionId: job.sessionId,
      workspaceDir,
      github,
      previous: previous?.github
        ? { branch: previous.branch, baseBranch: previous.github.baseBranch, repoDir: previous.github.repoPath }
        : undefined,
      providerPrefix: provider.name.split('-')[0]!,
      userRequestText: requestText(request.userRequest),
      gitAuthor: deps.config.gitAuthor,
      homeDir,
      runAs: (command, args) => job.agentUser.command(command, args),
      emit: (event) => job.log.append(event),
      redactor: deps.redactor,
      signal: job.abortController.signal,
      generateText: provider.generateText
        ? (prompt) =>
            provider.generateText!({
              prompt,
              // The job's own model access: through the proxy, so these calls count in its usage.
              credentials: access.credentials,
              env: { ...access.env },
              signal: job.abortController.signal,
            })
        : undefined,
      githubApiUrl: deps.config.githubApiUrl,
      pullRequest: request.pullRequest,
    };
  }

  async checkout(): Promise<CheckoutResult> {
    await this.openRemote();
    return checkoutRepository(this.context);
  }

  /** Closes what `checkout` opened in the agent's network; call once the job's git work is over. */
  async close(): Promise<void> {
    await this.closeRemote?.();
    this.closeRemote = undefined;
  }

  /**
   * AGENT_NETWORK=proxy-only: git runs as the job's uid, which has no DNS and reaches only
   * the model proxy. The worker resolves the remote, lets the uid reach exactly those
   * addresses until the job ends, and pins them for git.
   */
  private async openRemote(): Promise<void> {
    const { egress } = this.deps;
    if (!egress || this.closeRemote) return;
    const remote = await resolveRemote(this.context.github.repoUrl).catch((error: unknown) => {
      throw new JobError('GITHUB_ERROR', `Could not resolve the repository's host: ${(error as Error).message}`, { cause: error });
    });
    this.closeRemote = await egress.allowResolvedRemote(this.job.agentUser.uid, remote);
    this.context.pinnedAddresses = remote.addresses;
  }

  commitAndPush(checkout: CheckoutResult): Promise<CommitResult> {
    return commitAndPush(this.context, checkout);
  }
}

/** What the session keeps of a checkout, so the next turn (on any worker) finds its branch and clone. */
export function withCheckout(metadata: SessionMetadata, checkout: CheckoutResult, job: Job): SessionMetadata {
  const github = job.request.github!;
  return {
    ...metadata,
    title: checkout.title ?? metadata.title,
    branch: checkout.branch,
    github: {
      repoUrl: github.repoUrl,
      directory: github.directory,
      baseBranch: checkout.baseBranch,
      repoPath: checkout.repoPath,
    },
  };
}

/** Where the agent of a resumed repository session runs when this turn did not ask for git work. */
export function storedRepositoryCwd(metadata: SessionMetadata | undefined, workspaceDir: string): string | undefined {
  const repoPath = metadata?.github?.repoPath;
  if (!repoPath) return undefined;
  return path.join(workspaceDir, repoPath, metadata.github?.directory ?? '');
}

function requestText(request: UserRequest): string {
  if (typeof request === 'string') return request;
  return request
    .filter((block) => block.type === 'text')
    .map((block) => (block.type === 'text' ? block.text : ''))
    .join('\n');
}
