import { RedisHandback } from '../credentials/redis-handback.js';
import type { ShutdownAnswer } from '../http/routes/shutdown.js';
import { buildServer } from '../http/server.js';
import { WorkerMetrics } from '../metrics/metrics.js';
import { ProviderRegistry } from '../providers/registry.js';
import { EventRelay } from '../queue/event-relay.js';
import { QueuedJobs } from '../queue/queued-jobs.js';
import type { RoleContext } from './context.js';
import { openQueue } from './queue-connections.js';
import { listen, stopOnSignals } from './serve.js';

/**
 * ROLE=gateway: the whole public API; jobs go on the Redis queue for the
 * workers, and every stream is served from Redis. Stateless: run any number.
 */
export async function runGateway(context: RoleContext): Promise<void> {
  const { config, logger, store } = context;
  const redis = await openQueue(config, 'request');
  const metrics = new WorkerMetrics();
  const relay = new EventRelay(redis.connect('subscriber', 'events'), redis.sessions, logger, redis.encryptionKey);
  const jobs = new QueuedJobs({
    queue: redis.queue,
    redis: redis.commands,
    sessions: redis.sessions,
    relay,
    store,
    encryptionKey: redis.encryptionKey,
    queueMax: config.queue!.max,
    workerId: config.workerId,
    leaseTtlMs: config.leaseTtlMs,
    workspaceDir: config.workspaceDir,
    logger,
  });
  metrics.setQueueDepthSource(() => redis.queue.getWaitingCount());
  const app = buildServer({
    config,
    logger,
    jobs,
    store,
    providers: new ProviderRegistry(),
    isolation: { mode: 'none', reason: 'the gateway runs no agents' },
    metrics,
    readiness: context.readiness,
    handback: new RedisHandback(redis.commands, redis.encryptionKey, config.credentialsHandbackTtlMs),
    requestShutdown: (): ShutdownAnswer => ({ exiting: false, message: 'Nothing happens: a gateway runs no jobs of its own.' }),
  });

  stopOnSignals(context, async () => {
    jobs.close();
    await app.close();
    await redis.close();
  });
  await listen(app, context, { queueMax: config.queue!.max });
  metrics.loadLater();
}
