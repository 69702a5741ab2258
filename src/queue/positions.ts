import type { Queue } from 'bullmq';
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
