import { MemoryHandback } from '../credentials/memory-handback.js';
import type { ShutdownAnswer } from '../http/routes/shutdown.js';
import { buildServer } from '../http/server.js';
import { LocalJobs } from '../jobs/local-jobs.js';
import { WorkerMetrics } from '../metrics/metrics.js';
import { observeJobs } from '../metrics/observe-jobs.js';
import { ProviderRegistry } from '../providers/registry.js';
import { setUpAgentHost } from './agent-host.js';
import type { RoleContext } from './context.js';
import { listen, stopOnSignals } from './serve.js';

/** ROLE=standalone (the default): one process takes requests and runs their jobs; no other service needed. */
export async function runStandalone(context: RoleContext): Promise<void> {
  const { config, logger, store } = context;
  const metrics = new WorkerMetrics();
  const handback = new MemoryHandback(config.credentialsHandbackTtlMs);
  const host = await setUpAgentHost(context, { handback, metrics });
  const { jobs } = host;
  observeJobs(metrics, jobs);
  const app = buildServer({
    config,
    logger,
    jobs: new LocalJobs(jobs),
    store,
    providers: new ProviderRegistry(),
    isolation: host.isolation,
    metrics,
    readiness: context.readiness,
    handback,
    requestShutdown: () => answerShutdownRequest(),
  });

  const stop = stopOnSignals(context, async (reason) => {
    await jobs.shutdown(config.shutdownGraceMs);
    if (reason === 'EXIT_AFTER_JOB') await host.saveEverySessionBeforeExit();
    await host.close();
    await app.close();
  });

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

  if (config.exitAfterJob) {
    // Swarm's ephemeral workers: one job, save it, exit 0 and let the orchestrator restart us.
    jobs.once('finished', () => void stop('EXIT_AFTER_JOB'));
  }

  await listen(app, context, { maxConcurrentJobs: config.maxConcurrentJobs, isolation: host.isolation });
  host.startBackgroundWork();
  metrics.loadLater();
}
