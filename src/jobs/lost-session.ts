import type { EventInput, NumberedEvent } from '../events/registry.js';
import type { SessionMetadata, SessionStore } from '../storage/types.js';
import { localSessionPaths } from './local-session.js';
import { readPendingSave } from './pending-save.js';
import { flushPendingSave } from './session-saver.js';

export const WORKER_LOST_MESSAGE =
  "The session's last job was interrupted: its worker stopped before the job finished. " +
  'Resuming the session continues from its last checkpoint.';

/**
 * The final event of a job whose worker stopped before the job did. Whoever
 * first finds such a job — a reader of the session, or the session's next job —
 * appends it to the log, so the log reads the same on every worker.
 */
export function workerLostEvent(): EventInput {
  return { type: 'error', code: 'WORKER_LOST', error: WORKER_LOST_MESSAGE };
}

export interface LostSessionDeps {
  store: SessionStore;
  workspaceDir: string;
  workerId: string;
  leaseTtlMs: number;
}

/**
 * A session stored as `running` whose lock has expired has no worker any more
 * (it was killed, or lost the store for longer than the lock lives). Settles
 * it under its lock: the log gets the WORKER_LOST event with the next id, and
 * the metadata status `interrupted` — stored, so every reader on every worker
 * sees the same final event with the same id, and a later resume counts on
 * from it. Returns the session's metadata as it now stands (unchanged while a
 * worker holds the lock, i.e. the job runs).
 *
 * `updatedAt` is left as it was: the session's content did not change, and if
 * the job did finish but its worker could not save it (a pending save kept on
 * that worker), that save is newer and still wins when it reaches the store.
 */
export async function settleLostSession(deps: LostSessionDeps, metadata: SessionMetadata): Promise<SessionMetadata> {
  if (metadata.status !== 'running') return metadata;
  const { store } = deps;
  const sessionId = metadata.sessionId;
  const lease = await store.acquireLease(sessionId, deps.workerId, deps.leaseTtlMs);
  if (!lease) return metadata;
  try {
    // Read again under the lock: the job may have finished since the caller's read.
    const current = await store.readMetadata(sessionId);
    if (current?.status !== 'running') return current ?? metadata;
    // The job did finish here, but could not be saved: that is what happened, not a lost worker.
    const paths = localSessionPaths(deps.workspaceDir, sessionId);
    const pending = await readPendingSave(paths).catch(() => undefined);
    if (pending && (await flushPendingSave(paths, store, pending))) return (await store.readMetadata(sessionId)) ?? current;
    const events = await store.readEvents(sessionId);
    const lost: NumberedEvent = {
      id: Math.max(current.lastEventId, events.at(-1)?.id ?? 0) + 1,
      event: { ...workerLostEvent(), timestamp: new Date().toISOString() },
    };
    const settled: SessionMetadata = {
      ...current,
      status: 'interrupted',
      lastEventId: lost.id,
      lastError: { code: 'WORKER_LOST', message: WORKER_LOST_MESSAGE },
    };
    await store.writeEvents(sessionId, [...events, lost]);
    await store.writeMetadata(settled);
    return settled;
  } finally {
    await lease.release().catch(() => {});
  }
}
