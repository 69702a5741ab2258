import type { Logger } from 'pino';
import type { StreamErrorCode } from '../errors/codes.js';
import type { NumberedEvent } from '../events/registry.js';
import type { SessionMetadata, SessionStatus, SessionStore } from '../storage/types.js';
import type { ClusterSessions, SessionClaim } from './cluster-sessions.js';

export interface UnfinishedJobDeps {
  store: SessionStore;
  sessions: ClusterSessions;
  workerId: string;
  leaseTtlMs: number;
  logger: Logger;
}

/**
 * Ends a job that no worker will finish — taken off the queue by an abort, lost
 * with its worker, or refused by the worker before it ran — the way a job ends
 * on its worker: a final `error` event on its stream, then the session saved
 * with every event the stream holds (the store's last checkpoint may be behind
 * it), so a later resume counts on from the last id any client saw. Under the
 * session's store lock; false when someone else holds it, or the job no
 * longer owns its claim (nothing was changed then).
 */
export async function endUnfinishedJob(
  deps: UnfinishedJobDeps,
  claim: SessionClaim,
  code: StreamErrorCode,
  message: string,
): Promise<boolean> {
  const { store, sessions } = deps;
  const lease = await store.acquireLease(claim.sessionId, deps.workerId, deps.leaseTtlMs);
  if (!lease) return false;
  try {
    // The session is saved first, the final event goes out after, with the claim's end:
    // a client that reads it finds the session saved and free (as on a worker).
    const current = await sessions.read(claim.sessionId);
    if (current?.jobId !== claim.jobId) return false;
    const final: NumberedEvent = {
      id: current.lastId + 1,
      event: { type: 'error', code, error: message, timestamp: new Date().toISOString() },
    };
    const stored = await store.readEvents(claim.sessionId);
    const storedLastId = stored.at(-1)?.id ?? 0;
    const streamed = (await sessions.eventsAfter(claim.sessionId, 0)).filter((event) => event.id > storedLastId);
    const previous = await store.readMetadata(claim.sessionId);
    await store.writeEvents(claim.sessionId, [...stored, ...streamed, final]);
    await store.writeMetadata({
      ...(previous ?? newSessionMetadata(claim, store.kind)),
      status: statusOf(code),
      lastEventId: final.id,
      lastError: { code, message },
      ...(previous ? {} : { updatedAt: new Date().toISOString() }),
    });
    return await sessions.appendFinal(claim.sessionId, claim.jobId, final, current.state);
  } finally {
    await lease.release().catch((error: unknown) => deps.logger.warn({ err: error, sessionId: claim.sessionId }, 'could not release a session lock'));
  }
}

function statusOf(code: StreamErrorCode): SessionStatus {
  if (code === 'ABORTED') return 'aborted';
  if (code === 'WORKER_LOST') return 'interrupted';
  return 'failed';
}

/** A session whose first job never got as far as storing it. */
function newSessionMetadata(claim: SessionClaim, storage: SessionStore['kind']): SessionMetadata {
  const createdAt = new Date(claim.at || Date.now()).toISOString();
  return {
    sessionId: claim.sessionId,
    provider: claim.provider,
    status: 'running',
    createdAt,
    updatedAt: createdAt,
    lastEventId: 0,
    turns: 0,
    hasArchive: false,
    storage,
  };
}
