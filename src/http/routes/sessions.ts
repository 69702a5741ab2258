import fs from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { invalidField, WorkerError } from '../../errors/worker-error.js';
import { localSessionPaths } from '../../jobs/local-session.js';
import { settleLostSession } from '../../jobs/lost-session.js';
import { invalidSessionIdParam, isValidSessionId } from '../../sessions/session-id.js';
import type { SessionMetadata, SessionStore } from '../../storage/types.js';
import { CONTAINER_ID } from '../container-id.js';
import type { SessionAborted, SessionCredentials, SessionDeleted, SessionDetails, SessionList } from '../responses.js';
import type { ServerDeps } from '../server.js';
import { openSseStream, parseLastEventId, type SseStream } from '../sse.js';

type SessionParams = { Params: { id: string } };

export function registerSessionRoutes(app: FastifyInstance, { config, jobs, store, logger, metrics, handback }: ServerDeps): void {
  /** The session as it stands: a `running` one whose worker is gone is settled as `interrupted` first. */
  const current = async (metadata: SessionMetadata): Promise<SessionMetadata> => {
    if (metadata.status !== 'running' || (await jobs.find(metadata.sessionId))) return metadata;
    const deps = { store, workspaceDir: config.workspaceDir, workerId: config.workerId, leaseTtlMs: config.leaseTtlMs };
    return settleLostSession(deps, metadata).catch((error: unknown) => {
      logger.warn({ sessionId: metadata.sessionId, err: error }, 'could not check whether a running session lost its worker');
      return metadata;
    });
  };

  app.get<{ Querystring: { limit?: string; offset?: string } }>('/sessions', async (request): Promise<SessionList> => {
    const limit = pageParam(request.query.limit, 'limit', 1);
    const offset = pageParam(request.query.offset, 'offset', 0) ?? 0;
    const all = (await Promise.all((await store.listSessions()).map(current))).map(summaryOf);
    all.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    if (limit === undefined && offset === 0) return { count: all.length, sessions: all };
    const sessions = limit === undefined ? all.slice(offset) : all.slice(offset, offset + limit);
    const next = offset + sessions.length;
    return { count: sessions.length, total: all.length, sessions, ...(next < all.length ? { nextOffset: next } : {}) };
  });

  app.get<SessionParams>('/sessions/:id', async (request): Promise<SessionDetails> => {
    const id = sessionIdParam(request.params.id);
    const job = await jobs.find(id);
    const metadata = await store.readMetadata(id);
    if (metadata) {
      return { ...(await current(metadata)), running: job !== undefined, ...(job ? { queued: job.state === 'queued' } : {}) };
    }
    // A brand-new session is only stored once its job has prepared its workspace.
    if (job) return { sessionId: id, provider: job.provider, status: job.state, running: true };
    throw notFound(id);
  });

  app.get<SessionParams>('/sessions/:id/stream', async (request, reply) => {
    const id = sessionIdParam(request.params.id);
    const afterId = parseLastEventId(request.headers['last-event-id']);
    const job = await jobs.find(id);
    const stored = job ? undefined : await store.readMetadata(id);
    if (!job && !stored) throw notFound(id);

    reply.hijack();
    const stream = openSseStream(reply.raw, {
      keepAliveMs: config.keepAliveMs,
      onEventSent: () => metrics.eventsRelayed(),
      headers: { 'X-Container-ID': CONTAINER_ID, 'X-Session-ID': id },
    });
    if (job) {
      const unsubscribe = job.feed.subscribe(
        afterId,
        (event) => stream.send(event),
        () => stream.close(),
        (event) => stream.sendLiveOnly(event),
      );
      stream.onClose(unsubscribe);
      return;
    }
    try {
      await followStoredSession(store, id, afterId, stream, config, current);
    } finally {
      stream.close();
    }
  });

  app.delete<SessionParams>('/sessions/:id', async (request): Promise<SessionDeleted> => {
    const id = sessionIdParam(request.params.id);
    if (await jobs.find(id)) throw new WorkerError('SESSION_BUSY', `Session ${id} is running; abort it first.`);
    if (!(await store.readMetadata(id))) throw notFound(id);
    // The session's lock keeps a job on another worker from losing its session under it.
    // Deleting removes the lock object too, so it is not released afterwards.
    const lease = await store.acquireLease(id, config.workerId, config.leaseTtlMs);
    if (!lease) throw new WorkerError('SESSION_BUSY', `Session ${id} is running on another worker.`);
    const deleted = await store.deleteSession(id);
    await fs.rm(localSessionPaths(config.workspaceDir, id).root, { recursive: true, force: true });
    if (!deleted) throw notFound(id);
    return { sessionId: id, deleted: true };
  });

  const abort = async (id: string): Promise<SessionAborted> => {
    if (!(await jobs.abort(id))) {
      throw new WorkerError('SESSION_NOT_FOUND', `Session ${id} has no ${config.role === 'gateway' ? 'queued or running job' : 'job running on this worker'}.`);
    }
    return { sessionId: id, aborted: true };
  };

  app.get<SessionParams>('/sessions/:id/credentials', async (request, reply): Promise<SessionCredentials> => {
    const id = sessionIdParam(request.params.id);
    const credentials = await handback.take(id);
    if (!credentials) throw new WorkerError('CREDENTIALS_NOT_FOUND');
    reply.header('Cache-Control', 'no-store');
    return { sessionId: id, ...credentials };
  });

  app.post<SessionParams>('/sessions/:id/abort', async (request) => abort(sessionIdParam(request.params.id)));

  // The original worker's abort route, kept for its clients (issue #9).
  app.post('/abort', async (request) => abort(sessionIdInBody(request.body)));
}

/**
 * Streams a session's stored events. While the session runs on another worker,
 * keeps polling the store's checkpoints until its job ends. The session's lock
 * says whether that worker is still there: once it expired, `settle` records
 * the job as interrupted, and the stream ends with that stored WORKER_LOST event.
 */
async function followStoredSession(
  store: SessionStore,
  id: string,
  afterId: number,
  stream: SseStream,
  config: ServerDeps['config'],
  settle: (metadata: SessionMetadata) => Promise<SessionMetadata>,
): Promise<void> {
  let lastSent = afterId;
  const sendNew = async () => {
    for (const event of await store.readEvents(id)) {
      if (event.id <= lastSent) continue;
      stream.send(event);
      lastSent = event.id;
    }
  };
  await sendNew();
  while (!stream.closed) {
    const metadata = await store.readMetadata(id);
    if (!metadata || (await settle(metadata)).status !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, config.checkpointIntervalMs));
    await sendNew();
  }
  if (!stream.closed) await sendNew();
}

function summaryOf(metadata: SessionMetadata) {
  const { sessionId, storage, provider, status, createdAt, updatedAt, title, branch } = metadata;
  return { sessionId, storage, provider, status, createdAt, updatedAt, title, branch };
}

function pageParam(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw invalidField(name, `${name} must be a whole number ≥ ${min}.`);
  return Number(value);
}

function sessionIdParam(id: unknown): string {
  if (!isValidSessionId(id)) throw invalidSessionIdParam();
  return id;
}

/** The `sessionId` of a `{"sessionId": "…"}` body, checked like a path's id. */
function sessionIdInBody(body: unknown): string {
  const id = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { sessionId?: unknown }).sessionId : undefined;
  if (id === undefined) throw invalidField('sessionId', 'sessionId is required: send {"sessionId": "…"}.');
  return sessionIdParam(id);
}

function notFound(id: string): WorkerError {
  return new WorkerError('SESSION_NOT_FOUND', `Session ${id} does not exist.`);
}
