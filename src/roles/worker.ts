import { RedisHandback } from '../credentials/redis-handback.js';
import { buildServer } from '../http/server.js';
import { LocalJobs } from '../jobs/local-jobs.js';
import { WorkerMetrics } from '../metrics/metrics.js';
import { observeJobs } from '../metrics/observe-jobs.js';
import { ProviderRegistry } from '../providers/registry.js';
import { QueueWorker } from '../queue/queue-worker.js';
import { setUpAgentHost } from './agent-host.js';
import type { RoleContext } from './context.js';
import { openQueue } from './queue-connections.js';
import { listen, stopOnSignals } from './serve.js';

/**
 * ROLE=worker: takes jobs from the queue up to MAX_CONCURRENT_JOBS and runs
 * them; its HTTP port serves only /health and /metrics. With EXIT_AFTER_JOB it
 * takes exactly one job, finishes and saves it, and exits.
 */
export async function runWorker(context: RoleContext): Promise<void> {
  const { config, logger, store } = context;
  const redis = await openQueue(config, 'durable');
  const metrics = new WorkerMetrics();
  // Refreshed logins wait in Redis, sealed, for whichever gateway the client asks.
  const handback = new RedisHandback(redis.commands, redis.encryptionKey, config.credentialsHandbackTtlMs);
  const host = await setUpAgentHost(context, { handback, metrics });
  const { jobs } = host;
  observeJobs(metrics, jobs);
  const providers = new ProviderRegistry();
  const queueWorker = new QueueWorker({
    config,
    jobs,
    store,
    providers,
    sessions: redis.sessions,
    queue: redis.queue,
    connection: redis.connect('durable', 'jobs'),
    subscriber: redis.connect('subscriber', 'aborts'),
    encryptionKey: redis.encryptionKey,
    logger,
    onTaken: (waitedMs) => metrics.observeQueueWait(waitedMs / 1000),
  });
  const app = buildServer({
    config,
    logger,
    jobs: new LocalJobs(jobs),
    store,
    providers,
    isolation: host.isolation,
    metrics,
    readiness: context.readiness,
    handback,
    requestShutdown: () => ({ exiting: false, message: 'Nothing happens: a queue worker stops on SIGTERM, or after a job with EXIT_AFTER_JOB.' }),
  });

  const stop = stopOnSignals(context, async (reason) => {
    // No new job from here; the running ones get the grace period, then are aborted and saved.
    const closing = queueWorker.close();
    await jobs.shutdown(config.shutdownGraceMs);
    await closing;
    if (reason === 'EXIT_AFTER_JOB') await host.saveEverySessionBeforeExit();
    await host.close();
    await app.close();
    await redis.close();
  });

  await listen(app, context, { maxConcurrentJobs: config.maxConcurrentJobs, isolation: host.isolation });
  host.startBackgroundWork();
  // Jobs are taken only once the store answers: until then this worker is not ready.
  await context.storeReady;
  queueWorker.start({
    // One job, then exit: the worker stops fetching as soon as it has its job, and exits once it is recorded.
    onFirstJob: config.exitAfterJob ? () => void queueWorker.close().then(() => stop('EXIT_AFTER_JOB')) : undefined,
  });
  metrics.loadLater();
}
