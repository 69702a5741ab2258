import fs from 'node:fs';
import path from 'node:path';
import { configSecrets, ConfigError, loadConfig } from './config/env.js';
import { explainListenAddress } from './config/listen-address.js';
import type { ShutdownAnswer } from './http/routes/shutdown.js';
import { buildServer } from './http/server.js';
import { JobManager } from './jobs/job-manager.js';
import { LocalSessionCache } from './jobs/local-cache.js';
import { removeStaleHomes } from './jobs/local-session.js';
import { resavePendingSessions } from './jobs/session-saver.js';
import { IsolationUnavailableError, setUpIsolation } from './isolation/setup.js';
import { protectWorkerFiles } from './isolation/worker-files.js';
import { createLogger } from './logging/logger.js';
import { ProviderRegistry } from './providers/registry.js';
import { Redactor } from './secrets/redactor.js';
import { createSessionStore } from './storage/factory.js';

/** Wires configuration, logging, storage, jobs and HTTP together, and owns the process lifecycle. */
async function main(): Promise<void> {
  if (fs.existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const redactor = new Redactor();
  redactor.add(configSecrets(config));
  const logger = createLogger(config.logLevel, redactor);

  const store = await createSessionStore(config.storage);
  await store.init();
  fs.mkdirSync(config.workspaceDir, { recursive: true, mode: 0o700 });
  const isolation = await setUpIsolation({
    setting: config.agentIsolation,
    uidRange: config.agentUidRange,
    slots: config.maxConcurrentJobs,
    workspaceDir: config.workspaceDir,
    logger,
  });
  if (isolation.status.mode === 'uid') await protectWorkerFiles(config.workspaceDir, path.resolve('.env'), logger);
  const staleHomes = await removeStaleHomes(config.workspaceDir);
  if (staleHomes > 0) logger.warn({ staleHomes }, 'removed private homes left by an earlier run');

  const jobs = new JobManager({ config, store, redactor, logger }, isolation.users);
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
  const app = buildServer({
    config,
    logger,
    jobs,
    store,
    providers: new ProviderRegistry(),
    isolation: isolation.status,
    requestShutdown: () => answerShutdownRequest(),
  });

  let stopping: Promise<void> | undefined;
  const stop = (reason: string, exitCode = 0) => {
    stopping ??= (async () => {
      logger.info({ reason, running: jobs.runningCount }, 'worker stopping');
      await jobs.shutdown(config.shutdownGraceMs);
      await app.close();
      logger.info({ reason }, 'worker stopped');
      logger.flush();
      process.exit(exitCode);
    })();
    return stopping;
  };

  /**
   * POST /shutdown, which the original worker's clients send after every stream
   * (issue #9): only an EXIT_AFTER_JOB worker exits, and never under a running job.
   */
  const answerShutdownRequest = (): ShutdownAnswer => {
    if (!config.exitAfterJob) {
      return { exiting: false, message: 'Nothing happens: this worker exits after a job only with EXIT_AFTER_JOB=true.' };
    }
    logger.info({ running: jobs.runningCount }, 'shutdown requested over HTTP');
    // A running job's end stops the worker already (EXIT_AFTER_JOB, below), once its session is saved.
    if (jobs.runningCount > 0) return { exiting: true, message: 'The worker exits once its running job is saved.' };
    // The answer still goes out: closing the server waits for requests in flight.
    void stop('POST /shutdown');
    return { exiting: true, message: 'The worker exits now.' };
  };

  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  if (config.exitAfterJob) {
    // Swarm's ephemeral workers: one job, save it, exit 0 and let the orchestrator restart us.
    jobs.once('finished', () => void stop('EXIT_AFTER_JOB'));
  }

  const listen = explainListenAddress(config);
  if (listen.warning) logger.warn({ host: config.host }, listen.warning);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  void resavePendingSessions(config.workspaceDir, store, config.workerId, config.leaseTtlMs, logger).catch((error: unknown) =>
    logger.warn({ err: error }, 'could not look for pending sessions'),
  );
  void cache.start();
  logger.info(
    {
      url: `http://${shownHost}:${port}`,
      address: typeof address === 'object' && address ? address.address : config.host,
      reason: listen.reason,
      storage: store.kind,
      maxConcurrentJobs: config.maxConcurrentJobs,
      isolation: isolation.status,
    },
    'worker listening',
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof IsolationUnavailableError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`ai-coding-worker failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
