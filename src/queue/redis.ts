import { Redis, type RedisOptions } from 'ioredis';

/**
 * How a connection behaves while Redis is unreachable:
 * - `request`: a command fails at once, so an HTTP request gets its 503
 *   QUEUE_UNAVAILABLE instead of hanging (BullMQ's advice for producers);
 * - `durable`: commands wait, in order, until Redis is back — a job's events
 *   must reach their stream in sequence, and a worker's blocking reads
 *   (BullMQ requires `maxRetriesPerRequest: null` for them) reconnect by themselves;
 * - `subscriber`: pub/sub; ioredis subscribes again after a reconnect.
 */
export type ConnectionUse = 'request' | 'durable' | 'subscriber';

/** Opens a connection to REDIS_URL (`redis://` or `rediss://` for TLS; user, password and db from the URL). */
export function connectRedis(url: string, use: ConnectionUse, name: string): Redis {
  const options: RedisOptions = {
    connectionName: name,
    // Reconnect forever, backing off up to 2 s: Redis restarts must not need a worker restart.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    ...(use === 'request'
      ? // Auto-pipelining: the commands of concurrent requests share socket writes (the gateway's enqueue
        // rate was bound by one write per command, docs/benchmarks.md "Queue").
        { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true }
      : { maxRetriesPerRequest: null }),
  };
  const redis = new Redis(url, options);
  // Connection errors are retried by ioredis; without a listener Node would treat them as crashes.
  redis.on('error', () => {});
  return redis;
}
