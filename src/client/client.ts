import { WorkerApiError } from './errors.js';
import { EventStream, type ReconnectPolicy, type StreamOptions } from './event-stream.js';
import { createTransport, readJson, type FetchLike } from './http.js';
import { withRetry, type RetryPolicy } from './retry.js';
import type { ExecuteRequest, Health, SessionCredentials, SessionDetails, SessionList } from './types.js';

export interface ClientOptions {
  /** The worker (or gateway), e.g. `http://localhost:5000`. */
  baseUrl: string;
  /** `WORKER_API_TOKEN`, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** A fetch implementation; the global `fetch` by default. */
  fetch?: FetchLike;
  /** Waiting out `429`/`503` (busy, shutting down) before a request is taken. Default: up to 60 s in total. */
  retry?: Partial<RetryPolicy>;
  /**
   * Re-attaching a dropped stream. Default: for up to 60 s per loss; a
   * connection silent (no event, no keep-alive) for 60 s counts as lost.
   */
  reconnect?: Partial<ReconnectPolicy>;
}

export interface WorkerClient {
  /**
   * Runs a job: POST /execute, then its events until its `completed` or
   * `error` event. Survives dropped connections (re-attaches, never re-posts).
   * Throws WorkerApiError if the worker refuses the job (after waiting out 429/503).
   */
  execute(request: ExecuteRequest, options?: StreamOptions): EventStream;
  /**
   * A session's events from GET /sessions/:id/stream: the stored ones after
   * `lastEventId` (all without it), then live ones while a job runs here;
   * ends when the worker ends the stream.
   */
  stream(sessionId: string, options?: StreamOptions & { lastEventId?: number }): EventStream;
  /** Stops the session's running job on the worker; its stream ends with an `error` event `ABORTED`. */
  abort(sessionId: string, options?: CallOptions): Promise<{ sessionId: string; aborted: true }>;
  listSessions(options?: CallOptions & { limit?: number; offset?: number }): Promise<SessionList>;
  getSession(sessionId: string, options?: CallOptions): Promise<SessionDetails>;
  deleteSession(sessionId: string, options?: CallOptions): Promise<{ sessionId: string; deleted: true }>;
  health(options?: CallOptions): Promise<Health>;
  /**
   * The Claude login the worker refreshed during the session's last job, for a client that
   * missed its `credentials_updated` event: GET /sessions/:id/credentials, which answers once.
   * Undefined when none waits (never refreshed, taken already, or expired).
   */
  takeCredentials(sessionId: string, options?: CallOptions): Promise<SessionCredentials | undefined>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

const DEFAULT_RETRY: RetryPolicy = { maxWaitMs: 60_000 };
const DEFAULT_RECONNECT: ReconnectPolicy = { maxWaitMs: 60_000, idleTimeoutMs: 60_000 };

/** A typed client for the worker's HTTP API; fetch-based, so it runs in browsers as well as Node. */
export function createClient(options: ClientOptions): WorkerClient {
  const send = createTransport(options);
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const reconnect: ReconnectPolicy = { ...DEFAULT_RECONNECT, ...options.reconnect };
  const sessionPath = (id: string) => `/sessions/${encodeURIComponent(id)}`;
  const sseHeaders = { accept: 'text/event-stream' };

  const json = <T>(path: string, method: 'GET' | 'POST' | 'DELETE', signal?: AbortSignal): Promise<T> =>
    withRetry(() => send(path, { method, signal }), retry, signal).then((response) => readJson<T>(response));

  const reattach = (sessionId: string, lastEventId: number | undefined, signal: AbortSignal) =>
    send(`${sessionPath(sessionId)}/stream`, {
      headers: lastEventId === undefined ? sseHeaders : { ...sseHeaders, 'last-event-id': String(lastEventId) },
      signal,
    });

  return {
    execute(request, streamOptions) {
      const plan = {
        open: (signal: AbortSignal) =>
          withRetry(() => send('/execute', { method: 'POST', body: request, headers: sseHeaders, signal }), retry, signal),
        reattach,
        untilFinal: true,
        // A job of a new session starts the session's log; a resumed one starts after ids this client never saw.
        beforeFirstEvent: request.websiteSessionId === undefined && request.resumeSessionId === undefined ? 'start' : 'unknown',
      } as const;
      return new EventStream(plan, reconnect, streamOptions);
    },

    stream(sessionId, { lastEventId, ...streamOptions } = {}) {
      const plan = {
        open: (signal: AbortSignal) => withRetry(() => reattach(sessionId, lastEventId, signal), retry, signal),
        reattach,
        untilFinal: false,
        sessionId,
        ...(lastEventId !== undefined ? { lastEventId } : {}),
        beforeFirstEvent: 'start',
      } as const;
      return new EventStream(plan, reconnect, streamOptions);
    },

    abort: (sessionId, { signal } = {}) => json(`${sessionPath(sessionId)}/abort`, 'POST', signal),

    listSessions({ limit, offset, signal } = {}) {
      const query = new URLSearchParams();
      if (limit !== undefined) query.set('limit', String(limit));
      if (offset !== undefined) query.set('offset', String(offset));
      const search = query.toString();
      return json(`/sessions${search ? `?${search}` : ''}`, 'GET', signal);
    },

    getSession: (sessionId, { signal } = {}) => json(sessionPath(sessionId), 'GET', signal),
    deleteSession: (sessionId, { signal } = {}) => json(sessionPath(sessionId), 'DELETE', signal),
    health: ({ signal } = {}) => json('/health', 'GET', signal),
    takeCredentials: (sessionId, { signal } = {}) =>
      json<SessionCredentials>(`${sessionPath(sessionId)}/credentials`, 'GET', signal).catch((error: unknown) => {
        if (error instanceof WorkerApiError && error.code === 'CREDENTIALS_NOT_FOUND') return undefined;
        throw error;
      }),
  };
}
