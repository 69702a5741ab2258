import path from 'node:path';
import { checkoutRepository, commitAndPush, type CheckoutResult, type CommitResult, type RepositoryContext } from '../git/repository-phase.js';
import type { UserRequest } from '../providers/types.js';
import type { SessionMetadata } from '../storage/types.js';
import type { Job } from './job.js';
import type { JobDeps } from './run-job.js';

/** The git side of a job: what the job runner hands to src/git, and what it keeps of the answer. */
export class RepositorySteps {
  private readonly context: RepositoryContext;

  constructor(job: Job, workspaceDir: string, homeDir: string, deps: JobDeps) {
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
              credentials: request.credentials,
              env: { ...deps.config.agentEnv },
              signal: job.abortController.signal,
            })
        : undefined,
      githubApiUrl: deps.config.githubApiUrl,
      pullRequest: request.pullRequest,
    };
  }

  checkout(): Promise<CheckoutResult> {
    return checkoutRepository(this.context);
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
