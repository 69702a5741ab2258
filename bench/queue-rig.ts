import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startRedisServer, type RedisTestServer } from '../test/fixtures/redis-server.js';
import { startBuiltWorker, tempDir, type BenchWorker } from './lib.js';

/**
 * The processes of the queue benchmark, all from the build (`node dist/main.js`):
 * one real redis-server (the test suite's fixture: append-only file, fsync on
 * every write, as the README asks for in production), gateways and queue
 * workers sharing one fs session store, and standalone workers for the
 * baselines. Every process has a fixed port of its own from `firstPort` on.
 */
export interface QueueRig {
  redis: RedisTestServer;
  /** Starts a gateway (ROLE=gateway) over the shared store. */
  gateway(env?: Record<string, string>): Promise<BenchWorker>;
  /** Starts a queue worker (ROLE=worker, 1 slot unless `env` says otherwise). */
  queueWorker(env?: Record<string, string>): Promise<BenchWorker>;
  /** Starts a standalone worker with a store of its own. */
  standalone(env?: Record<string, string>): Promise<BenchWorker>;
  /** Stops `processes` (all the rig started so far when omitted) and empties Redis. */
  reset(processes?: BenchWorker[]): Promise<void>;
  close(): Promise<void>;
}

export async function startQueueRig(modelUrl: string, firstPort: number): Promise<QueueRig> {
  const redis = await startRedisServer();
  const root = await tempDir('queue');
  const sharedSessions = path.join(root, 'cluster-sessions');
  const encryptionKey = randomBytes(32).toString('hex');
  const running = new Set<BenchWorker>();
  let port = firstPort;
  let count = 0;

  const start = async (env: Record<string, string>): Promise<BenchWorker> => {
    const name = `p${count++}`;
    const worker = await startBuiltWorker(
      {
        ANTHROPIC_BASE_URL: modelUrl,
        WORKSPACE_DIR: path.join(root, name, 'workspace'),
        SESSIONS_DIR: sharedSessions,
        ...env,
      },
      port++,
    );
    running.add(worker);
    return worker;
  };
  const clustered = (role: string, env: Record<string, string>) =>
    start({ ROLE: role, REDIS_URL: redis.url, JOB_ENCRYPTION_KEY: encryptionKey, QUEUE_MAX: '1000000', ...env });

  const stop = async (processes: BenchWorker[]) => {
    await Promise.all(processes.map((worker) => worker.stop()));
    for (const worker of processes) running.delete(worker);
  };

  return {
    redis,
    gateway: (env = {}) => clustered('gateway', env),
    queueWorker: (env = {}) => clustered('worker', { MAX_CONCURRENT_JOBS: '1', ...env }),
    standalone: (env = {}) => start({ SESSIONS_DIR: path.join(root, `p${count}`, 'sessions'), ...env }),
    async reset(processes = [...running]) {
      await stop(processes);
      const client = redis.client();
      await client.flushall();
      client.disconnect();
    },
    async close() {
      await stop([...running]);
      await redis.dispose();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}
