import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/env.js';
import { ClusterSessions } from '../queue/cluster-sessions.js';
import { QUEUE_NAME } from '../queue/keys.js';
import type { QueuedJobData } from '../queue/queued-jobs.js';
import { connectRedis, type ConnectionUse } from '../queue/redis.js';

/** The Redis side of the gateway and worker roles: the queue, the session claims, and their connections. */
export interface QueueConnections {
  queue: Queue<QueuedJobData>;
  /** The connection the queue and the session claims use. */
  commands: Redis;
  sessions: ClusterSessions;
  connect(use: ConnectionUse, name: string): Redis;
  encryptionKey: Buffer;
  close(): Promise<void>;
}

/** BullMQ and ioredis load only in these roles: the standalone worker starts without them. */
export async function openQueue(config: Readonly<Config>, use: ConnectionUse): Promise<QueueConnections> {
  const settings = config.queue!;
  const { Queue } = await import('bullmq');
  const opened: Redis[] = [];
  const connect = (connectionUse: ConnectionUse, name: string) => {
    const redis = connectRedis(settings.redisUrl, connectionUse, `${config.role}:${name}`);
    opened.push(redis);
    return redis;
  };
  const commands = connect(use, 'commands');
  const queue = new Queue<QueuedJobData>(QUEUE_NAME, { connection: commands });
  queue.on('error', () => {});
  return {
    queue,
    commands,
    sessions: new ClusterSessions(commands),
    connect,
    encryptionKey: Buffer.from(settings.encryptionKeyHex, 'hex'),
    async close() {
      await queue.close().catch(() => {});
      for (const redis of opened) redis.disconnect();
    },
  };
}
