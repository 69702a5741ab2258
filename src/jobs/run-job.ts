import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { CredentialHandback } from '../credentials/handback.js';
import { JobError } from '../errors/worker-error.js';
import { DbEventSink } from '../events/db-sink.js';
import type { StreamErrorCode } from '../errors/codes.js';
import type { AgentEgress } from '../isolation/egress.js';
import type { ModelProxy } from '../model-proxy/model-proxy.js';
import type { ProviderRunResult } from '../providers/types.js';
import type { Redactor } from '../secrets/redactor.js';
import type { SessionMetadata, SessionStatus, SessionStore } from '../storage/types.js';
import type { Job } from './job.js';
import {
  closeSessionFolder,
  createPrivateHome,
  ensureLocalSession,
  isLocalCopyCurrent,
  localSessionPaths,
  openSessionFolder,
  privateTmpDir,
  removePrivateHome,
  type LocalSessionPaths,
} from './local-session.js';
import { keepLease } from './lease-keeper.js';
import { openModelAccess, type ModelAccess } from './model-access.js';
import { SessionSaver } from './session-saver.js';
import { RepositorySteps, storedRepositoryCwd, withCheckout } from './repository-steps.js';
import { titleFromRequest } from './title.js';

export interface JobDeps {
  config: Readonly<Config>;
  store: SessionStore;
  redactor: Redactor;
  logger: Logger;
  /** Where agents reach their models (src/model-proxy); absent only in tests of other parts. */
  modelProxy?: ModelProxy;
  /** Keeps refreshed credentials for GET /sessions/:id/credentials. */
  handback: CredentialHandback;
  /** AGENT_NETWORK=proxy-only: the agents' firewall rules (src/isolation/egress.ts). */
  egress?: AgentEgress;
}

type Outcome =
  | { ok: true; result: ProviderRunResult; branch?: string; commitHash?: string }
  | { ok: false; code: StreamErrorCode; message: string };

/**
 * Runs a job through its phases — prepare, checkout, agent, commit, persist —
 * and always persists and cleans up, whichever phase failed. Never throws:
 * every failure becomes the stream's final `error` event.
 */
export async function runJob(job: Job, deps: JobDeps): Promise<void> {
  const { logger } = deps;
  const releaseSecrets = deps.redactor.add([
    ...job.request.credentials.secrets,
    job.request.github?.accessToken,
    job.request.database?.accessToken,
  ]);
  const paths = localSessionPaths(deps.config.workspaceDir, job.sessionId);
  let home: string | undefined;
  let workspaceReady = false;
  let metadata = initialMetadata(job, deps.store.kind);
  let outcome: Outcome;
  const lease = keepLease(job, deps);
  const saver = new SessionSaver(job.sessionId, paths, deps.store, logger, deps.config.saveRetryAttempts, lease);
  const dbSink = attachDbSink(job, deps);
  const access = openModelAccess(job, deps);
  let repository: RepositorySteps | undefined;
  try {
    job.phase = 'prepare';
    await prepareWorkspace(job, paths, deps);
    workspaceReady = true;
    await deps.store.writeMetadata(metadata);
    saver.startCheckpoints(deps.config.checkpointIntervalMs, job.log, () => metadata);
    await openSessionFolder(paths, job.agentUser);
    home = await createPrivateHome(deps.config.workspaceDir, job.agentUser);
    throwIfAborted(job);

    job.phase = 'checkout';
    repository = job.request.github ? new RepositorySteps(job, paths.workspace, home, deps, access) : undefined;
    // Without a remote to open, still check the job's uid is fenced in (a flushed firewall re-installs here).
    if (!repository) await deps.egress?.ensureInstalled(job.agentUser.uid);
    const checkout = await repository?.checkout();
    if (checkout) {
      metadata = withCheckout(metadata, checkout, job);
      await deps.store.writeMetadata(metadata);
    }
    throwIfAborted(job);

    job.phase = 'agent';
    const cwd = checkout?.agentCwd ?? storedRepositoryCwd(job.previous, paths.workspace) ?? paths.workspace;
    const result = await runAgent(job, paths, cwd, home, deps, access);

    job.phase = 'commit';
    const commit = checkout && job.request.autoCommit ? await repository?.commitAndPush(checkout) : undefined;
    outcome = {
      ok: true,
      // Counted after the commit: the commit message's model call is part of the job.
      result: { ...result, usage: access.usage(result.usage) },
      branch: commit?.branch ?? checkout?.branch,
      commitHash: commit?.commitHash,
    };
  } catch (error) {
    const failure = failureOf(job, error);
    outcome = failure;
    logger.warn({ sessionId: job.sessionId, phase: job.phase, code: failure.code, err: error }, 'job failed');
  } finally {
    // Nothing the job started outlives it: not the agent's daemons, not a git helper, not its proxy token.
    await access.close();
    await job.agentUser.killAll().catch((error) => logger.error({ err: error }, 'could not stop the job\'s processes'));
    await repository?.close();
    if (home) await removePrivateHome(home).catch((error) => logger.error({ err: error }, 'could not remove home'));
    await closeSessionFolder(paths);
  }

  job.phase = 'persist';
  try {
    metadata = await persistSession(job, saver, finalMetadata(metadata, outcome, job), outcome, workspaceReady);
  } catch (error) {
    logger.error({ sessionId: job.sessionId, err: error }, 'persisting the session failed');
    if (!job.log.terminalEvent()) {
      job.log.append({ type: 'error', code: 'STORAGE_ERROR', error: `The session could not be saved: ${messageOf(error)}` });
    }
  } finally {
    // Whatever happened above, the stream ends and the session's lock and secrets are let go.
    await lease.stop();
    await dbSink?.close();
    job.phase = 'done';
    job.log.end();
    releaseSecrets();
  }
  logger.info(
    { sessionId: job.sessionId, status: metadata.status, durationMs: Date.now() - job.startedAt },
    'job finished',
  );
}

/**
 * Saves the finished job: the archive (unless the workspace was never
 * prepared — a failed restore must not replace the stored archive), then the
 * terminal event, then the log and metadata. Returns the metadata as saved.
 */
async function persistSession(
  job: Job,
  saver: SessionSaver,
  metadata: SessionMetadata,
  outcome: Outcome,
  workspaceReady: boolean,
): Promise<SessionMetadata> {
  await saver.stopCheckpoints();
  const archivePending = workspaceReady && !(await saver.saveArchive(metadata));
  if (workspaceReady && !archivePending) metadata.hasArchive = true;
  if (archivePending) {
    outcome = {
      ok: false,
      code: 'STORAGE_ERROR',
      message: 'The session could not be saved to the store; it is kept on this worker and saved again later.',
    };
    metadata.status = 'failed';
    metadata.lastError = { code: outcome.code, message: outcome.message };
  }
  job.log.append(terminalEvent(job, outcome));
  metadata.lastEventId = job.log.lastEventId;
  await saver.saveLog(metadata, job.log, !archivePending);
  return metadata;
}

/** Streams the job's events to the DB API when the request asked for it. */
function attachDbSink(job: Job, deps: JobDeps): DbEventSink | undefined {
  const database = job.request.database;
  if (!database) return undefined;
  if (!deps.config.dbBaseUrl) {
    // The original worker's clients send `database` on every request; it skipped the sink silently (issue #9).
    deps.logger.debug({ sessionId: job.sessionId }, 'request has `database` but no DB_BASE_URL is set: not streaming events to a DB API');
    return undefined;
  }
  const sink = new DbEventSink(
    { baseUrl: deps.config.dbBaseUrl, sessionId: database.sessionId ?? job.sessionId, accessToken: database.accessToken },
    deps.logger,
  );
  sink.attach(job.log, job.firstEventId - 1);
  return sink;
}

async function prepareWorkspace(job: Job, paths: LocalSessionPaths, deps: JobDeps): Promise<void> {
  const previous = job.previous;
  if (previous?.hasArchive && !(await isLocalCopyCurrent(paths, previous.updatedAt))) {
    job.log.append({ type: 'message', message: 'Restoring the session workspace from storage' });
    try {
      await deps.store.restoreArchive(job.sessionId, paths.root);
      // The archive carries the last owner's marker, but its files come out as the worker's.
      await fs.rm(paths.ownerMarker, { force: true });
    } catch (error) {
      deps.logger.error({ sessionId: job.sessionId, err: error }, 'restoring the session archive failed');
      // A repository can be rebuilt from git (the checkout re-clones onto the session branch);
      // anything else would be silently lost, so the job fails instead.
      if (!previous.github || !job.request.github) {
        throw new JobError('STORAGE_ERROR', `The session workspace could not be restored: ${messageOf(error)}`, {
          cause: error,
        });
      }
      await fs.rm(paths.root, { recursive: true, force: true });
      job.log.append({
        type: 'message',
        message: 'The stored workspace could not be restored; rebuilding it from the repository (uncommitted changes are lost)',
      });
    }
  }
  await ensureLocalSession(paths);
}

async function runAgent(
  job: Job,
  paths: LocalSessionPaths,
  cwd: string,
  home: string,
  deps: JobDeps,
  access: ModelAccess,
): Promise<ProviderRunResult> {
  const { provider } = job.request;
  // `github.directory` may have been created by the worker just now.
  await job.agentUser.adoptPath(paths.workspace, cwd);
  let result: ProviderRunResult;
  try {
    result = await provider.run({
      prompt: job.request.userRequest,
      cwd,
      homeDir: home,
      stateDir: paths.state,
      credentials: access.credentials,
      resumeAgentSessionId: job.previous?.provider === provider.name ? job.previous.agentSessionId : undefined,
      options: job.request.providerOptions,
      workerDefaults: deps.config.providerDefaults[provider.name],
      env: { ...access.env, TMPDIR: privateTmpDir(home) },
      agentUser: job.agentUser,
      signal: job.abortController.signal,
      onMessage: (message) => {
        const normalized = provider.normalize?.(message);
        job.log.append({
          type: 'assistant_message',
          provider: provider.name,
          data: message,
          ...(normalized && normalized.length > 0 ? { normalized } : {}),
        });
      },
    });
  } catch (error) {
    if (job.aborted) throw abortedError();
    throw new JobError('PROVIDER_ERROR', `${provider.name} failed: ${messageOf(error)}`, { cause: error });
  } finally {
    // Before git looks at the workspace: no agent process may still be writing to it.
    await job.agentUser.killAll();
  }
  throwIfAborted(job);
  job.agentSessionId = result.agentSessionId ?? job.agentSessionId;
  if (result.error) throw new JobError('PROVIDER_ERROR', result.error);
  return result;
}

function initialMetadata(job: Job, storage: 'fs' | 's3'): SessionMetadata {
  const now = new Date().toISOString();
  const previous = job.previous;
  return {
    ...(previous ?? {
      sessionId: job.sessionId,
      createdAt: now,
      title: titleFromRequest(job.request.userRequest),
      lastEventId: 0,
      turns: 0,
      hasArchive: false,
    }),
    provider: job.request.provider.name,
    status: 'running',
    updatedAt: now,
    storage,
    lastError: undefined,
  };
}

function finalMetadata(metadata: SessionMetadata, outcome: Outcome, job: Job): SessionMetadata {
  const status: SessionStatus = outcome.ok ? 'completed' : outcome.code === 'ABORTED' ? 'aborted' : 'failed';
  return {
    ...metadata,
    status,
    updatedAt: new Date().toISOString(),
    turns: metadata.turns + 1,
    agentSessionId: job.agentSessionId ?? metadata.agentSessionId,
    lastError: outcome.ok ? undefined : { code: outcome.code, message: outcome.message },
  };
}

function terminalEvent(job: Job, outcome: Outcome) {
  if (!outcome.ok) return { type: 'error' as const, error: outcome.message, code: outcome.code };
  return {
    type: 'completed' as const,
    sessionId: job.sessionId,
    duration_ms: Date.now() - job.startedAt,
    ...(outcome.branch ? { branch: outcome.branch } : {}),
    ...(outcome.commitHash ? { commitHash: outcome.commitHash } : {}),
    ...(outcome.result.usage ? { usage: outcome.result.usage } : {}),
  };
}

function failureOf(job: Job, error: unknown): Outcome & { ok: false } {
  if (job.failure) return { ok: false, ...job.failure };
  if (job.aborted) return { ok: false, code: 'ABORTED', message: abortedError().message };
  if (error instanceof JobError) return { ok: false, code: error.code, message: error.message };
  return { ok: false, code: 'UNKNOWN_ERROR', message: messageOf(error) };
}

function throwIfAborted(job: Job): void {
  if (job.aborted) throw abortedError();
}

function abortedError(): JobError {
  return new JobError('ABORTED', 'The job was aborted.');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
