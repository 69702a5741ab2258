import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ClusterSessions } from './cluster-sessions.js';
import { sessionOfQueueJob } from './keys.js';

/**
 * Tells every waiting job where it now stands. Positions change only when a
 * job leaves the queue (a worker takes it, an abort removes it), so whoever
 * takes one off calls this; each session gets a `queued` event only when its
 * job moved forward (queue/cluster-sessions.ts decides, atomically).
 */
export async function announcePositions(queue: Queue, sessions: ClusterSessions): Promise<void> {
  // Oldest first: the head of the list is the next job a worker takes.
  const waiting = await queue.getRanges(['wait'], 0, -1, true);
  await Promise.all(waiting.map((jobId, index) => sessions.notePosition(sessionOfQueueJob(jobId), jobId, index + 1)));
}

/**
 * One job's place (1 = next), undefined once it left the queue. BullMQ pushes new
 * jobs at the head of its wait list and workers take from the tail; `redis` is the
 * queue's own connection.
 */
export async function queuePosition(queue: Queue, redis: Redis, jobId: string): Promise<number | undefined> {
  const waitList = queue.keys.wait!;
  const [length, index] = (await redis.multi().llen(waitList).lpos(waitList, jobId).exec()) ?? [];
  if (!length || !index || index[1] === null) return undefined;
  return Number(length[1]) - Number(index[1]);
}
