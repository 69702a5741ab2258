import fs from 'node:fs';
import path from 'node:path';
import type { CredentialHandback } from '../credentials/handback.js';
import { AgentEgress, AgentNetworkUnavailableError, probeEgressSupport, removeAgentEgressRules } from '../isolation/egress.js';
import { setUpIsolation } from '../isolation/setup.js';
import type { IsolationStatus } from '../isolation/types.js';
import { protectWorkerFiles } from '../isolation/worker-files.js';
import { JobManager } from '../jobs/job-manager.js';
import { LocalSessionCache } from '../jobs/local-cache.js';
import { removeStaleHomes } from '../jobs/local-session.js';
import { resavePendingSessions } from '../jobs/session-saver.js';
import { retryUntilDone } from '../lifecycle/retry.js';
import type { WorkerMetrics } from '../metrics/metrics.js';
import { ModelProxy } from '../model-proxy/model-proxy.js';
import type { RoleContext } from './context.js';

/** The part of a process that runs agents: the standalone and worker roles share it. */
export interface AgentHost {
  jobs: JobManager;
  isolation: IsolationStatus;
  /** Work that waits until the process serves and the store answers: flushing pending saves, the local cache's sweeps. */
  startBackgroundWork(): void;
  /**
   * Before an EXIT_AFTER_JOB exit: saves every session whose save failed,
   * retrying with backoff for as long as it takes, not ready meanwhile. The
   * next container has a fresh workspace, so leaving now would lose them (issue #11).
   */
  saveEverySessionBeforeExit(): Promise<void>;
  /** After the last job: takes the agents' firewall rules down (AGENT_NETWORK=proxy-only). */
  close(): Promise<void>;
}

export interface AgentHostOptions {
  /** Where refreshed credentials wait for GET /sessions/:id/credentials: this process, or Redis for the gateways. */
  handback: CredentialHandback;
  metrics: WorkerMetrics;
}

/**
 * Sets up isolation, the workspace folder, the model proxy and the job manager, and cleans
 * up after an earlier run.
 */
export async function setUpAgentHost(
  { config, store, redactor, logger, readiness, storeReady }: RoleContext,
  { handback, metrics }: AgentHostOptions,
): Promise<AgentHost> {
  fs.mkdirSync(config.workspaceDir, { recursive: true, mode: 0o700 });
  const isolation = await setUpIsolation({
    setting: config.agentIsolation,
    uidRange: config.agentUidRange,
    slots: config.maxConcurrentJobs,
    workspaceDir: config.workspaceDir,
    logger,
  });
  // Two iptables listings (~10–40 ms): they run alongside the rest of the set-up, not after it.
  const unfenced = config.agentNetwork === 'open' ? unfenceAgents(isolation.status) : Promise.resolve();
  if (isolation.status.mode === 'uid') await protectWorkerFiles(config.workspaceDir, path.resolve('.env'), logger);
  const staleHomes = await removeStaleHomes(config.workspaceDir);
  if (staleHomes > 0) logger.warn({ staleHomes }, 'removed private homes left by an earlier run');

  const modelProxy = await ModelProxy.start({
    upstreams: config.modelUpstreams,
    logger: logger.child({ component: 'model-proxy' }),
    onCall: (call) => metrics.modelCall(call),
  });
  await unfenced;
  const egress = config.agentNetwork === 'proxy-only' ? await fenceInAgents(isolation.status, modelProxy, logger) : undefined;
  const jobs = new JobManager({ config, store, redactor, logger, modelProxy, handback, egress }, isolation.users);
  const cache = new LocalSessionCache({
    workspaceDir: config.workspaceDir,
    limits: config.localCache,
    store,
    workerId: config.workerId,
    leaseTtlMs: config.leaseTtlMs,
    logger,
    isActive: (sessionId) => jobs.isActive(sessionId),
  });
  jobs.on('finished', (job) => void cache.afterJob(job.sessionId));
  const resavePending = () => resavePendingSessions(config.workspaceDir, store, config.workerId, config.leaseTtlMs, logger);
  return {
    jobs,
    isolation: isolation.status,
    startBackgroundWork() {
      void storeReady.then(() => {
        void resavePending().catch((error: unknown) => logger.warn({ err: error }, 'could not look for pending sessions'));
        void cache.start();
      });
    },
    async saveEverySessionBeforeExit() {
      const unblock = readiness.block('a session waits to be saved to the store before the worker exits');
      await storeReady;
      await retryUntilDone(
        async () => {
          const unsaved = await resavePending();
          if (unsaved > 0) throw new Error(`${unsaved} session(s) not saved yet`);
        },
        { onRetry: (error, delayMs) => logger.warn({ err: error, retryInMs: delayMs }, 'not exiting: a session is not saved yet') },
      );
      unblock();
    },
    async close() {
      await egress?.close().catch((error: unknown) => logger.warn({ err: error }, 'could not remove the agents\' firewall rules'));
    },
  };
}

/** AGENT_NETWORK=proxy-only: the agents' uids reach the model proxy (and, per job, their git remote) only. */
async function fenceInAgents(isolation: IsolationStatus, modelProxy: ModelProxy, logger: RoleContext['logger']): Promise<AgentEgress> {
  const support = await probeEgressSupport(isolation);
  if (!support.ok) throw new AgentNetworkUnavailableError(support.reason);
  return AgentEgress.setUp({ uids: isolation.uids ?? [], proxyPort: Number(new URL(modelProxy.url).port), logger });
}

/**
 * AGENT_NETWORK=open: a proxy-only worker killed before it could clean up leaves its uids'
 * chains behind, which would cut this worker's agents off from everything but that worker's
 * old proxy port. The uids are ours now (uid-pool.ts), so their leftovers are ours to remove.
 */
async function unfenceAgents(isolation: IsolationStatus): Promise<void> {
  if (isolation.mode === 'uid' && isolation.uids) await removeAgentEgressRules(isolation.uids).catch(() => {});
}
