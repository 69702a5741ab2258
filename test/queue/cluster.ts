import { randomBytes } from 'node:crypto';
import { messagesText, startFakeAnthropic, type FakeAnthropic, type FakeScript, type ScriptContext } from '../fixtures/fake-anthropic.js';
import { startRedisServer, type RedisTestServer } from '../fixtures/redis-server.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';
import { startWorker, type WorkerEnv, type WorkerHandle } from '../fixtures/worker.js';

/** A key that is easy to grep for in Redis (it must never be there). */
export const JOB_ENCRYPTION_KEY = randomBytes(32).toString('hex');

/** Answers after `ms`; a prompt with "quick" at once. */
export const slowModel = (ms: number) => (ctx: ScriptContext) => ({
  type: 'text' as const,
  text: 'Done.',
  delayMs: messagesText(ctx.request).includes('quick') ? 0 : ms,
});

/**
 * A cluster on one machine, as separate processes: a real redis-server, a
 * fake model, gateways and queue workers sharing one fs session store.
 */
export interface Cluster {
  redis: RedisTestServer;
  fake: FakeAnthropic;
  sessions: TempDir;
  gateways: WorkerHandle[];
  workers: WorkerHandle[];
  addGateway(env?: WorkerEnv): Promise<WorkerHandle>;
  addWorker(env?: WorkerEnv): Promise<WorkerHandle>;
  /** Every process's warnings and errors, for a failing test's message. */
  diagnostics(): string;
  close(): Promise<void>;
}

export async function startCluster(
  script: FakeScript,
  options: { gateways?: number; workers?: number; env?: WorkerEnv; workerEnv?: WorkerEnv } = {},
): Promise<Cluster> {
  const redis = await startRedisServer();
  const fake = await startFakeAnthropic(script);
  const sessions = await makeTempDir('acw-cluster-sessions');
  const common: WorkerEnv = {
    ANTHROPIC_BASE_URL: fake.url,
    REDIS_URL: redis.url,
    JOB_ENCRYPTION_KEY,
    SESSION_LEASE_TTL_MS: '3000',
    CHECKPOINT_INTERVAL_MS: '500',
    ...options.env,
  };
  const cluster: Cluster = {
    redis,
    fake,
    sessions,
    gateways: [],
    workers: [],
    async addGateway(env = {}) {
      const gateway = await startWorker({ env: { ...common, ROLE: 'gateway', ...env }, dirs: { sessions: sessions.path } });
      cluster.gateways.push(gateway);
      return gateway;
    },
    async addWorker(env = {}) {
      const worker = await startWorker({
        env: { ...common, ROLE: 'worker', MAX_CONCURRENT_JOBS: '1', ...options.workerEnv, ...env },
        dirs: { sessions: sessions.path },
      });
      cluster.workers.push(worker);
      return worker;
    },
    diagnostics() {
      const lines: string[] = [];
      for (const [name, handles] of [['gateway', cluster.gateways], ['worker', cluster.workers]] as const) {
        handles.forEach((handle, index) => {
          for (const record of handle.logRecords()) {
            if ((record.level ?? 0) >= 40) lines.push(`${name}${index}: ${JSON.stringify(record).slice(0, 600)}`);
          }
        });
      }
      return lines.join('\n');
    },
    async close() {
      await Promise.all([...cluster.gateways, ...cluster.workers].map((handle) => handle.dispose()));
      await fake.close();
      await redis.dispose();
      await sessions.remove();
    },
  };
  try {
    await Promise.all([
      ...Array.from({ length: options.gateways ?? 1 }, () => cluster.addGateway()),
      ...Array.from({ length: options.workers ?? 2 }, () => cluster.addWorker()),
    ]);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}
