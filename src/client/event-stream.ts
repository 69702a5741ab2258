import { WorkerApiError, WorkerConnectionError } from './errors.js';
import { linkedController } from './http.js';
import { backoffMs, isRetryable, retryAfterMs, sleep } from './retry.js';
import { readSse } from './sse.js';
import type { StreamEvent, WorkerEvent } from './types.js';

export interface StreamOptions {
  /** Aborting stops reading (the iterator throws the signal's reason). It does not stop the job: `abort()` does. */
  signal?: AbortSignal;
  /** Called before each attempt to re-attach after the stream was lost. */
  onReconnect?: (info: ReconnectInfo) => void;
}

export interface ReconnectInfo {
  sessionId: string;
  /** Re-attaching asks for the events after this one (undefined: from the session's start). */
  lastEventId: number | undefined;
  /** 1 for the first attempt after a loss. */
  attempt: number;
  /** Why the previous connection was given up. */
  cause: unknown;
}

export interface ReconnectPolicy {
  /** Longest time spent re-attaching after a loss before giving up. */
  maxWaitMs: number;
  /** A connection that delivers nothing (not even a keep-alive) for this long is treated as lost; 0 = never. */
  idleTimeoutMs: number;
}

/** How a stream is opened and re-attached. */
export interface FollowPlan {
  /** The first connection: POST /execute, or GET /sessions/:id/stream. */
  open(signal: AbortSignal): Promise<Response>;
  /** GET /sessions/:id/stream with Last-Event-ID (none when `lastEventId` is undefined). */
  reattach(sessionId: string, lastEventId: number | undefined, signal: AbortSignal): Promise<Response>;
  /**
   * `execute`: the stream is one job's, and ends after its `completed` or
   * `error` event. `stream`: it ends when the worker ends it.
   */
  untilFinal: boolean;
  /** Known before the first answer (`stream`). */
  sessionId?: string;
  /** The last event already seen (`stream`'s `lastEventId`). */
  lastEventId?: number;
  /**
   * Where to re-attach from when the stream broke before its first event:
   * `start` (a new session, or `stream` without `lastEventId`), or `unknown`
   * (a resumed session's job: its first id is not known, so the client gives up).
   */
  beforeFirstEvent: 'start' | 'unknown';
}

/**
 * The events of one stream as an async iterable that survives dropped
 * connections: when the stream breaks before its end, it re-attaches through
 * GET /sessions/:id/stream with Last-Event-ID set to the last id it yielded —
 * at once, then with backoff, within `maxWaitMs` — and drops any event it has
 * already yielded, so the consumer sees no gap and no duplicate. Iterable once.
 */
export class EventStream implements AsyncIterable<StreamEvent> {
  private started = false;
  private _sessionId: string | undefined;
  private _lastEventId: number | undefined;

  constructor(
    private readonly plan: FollowPlan,
    private readonly policy: ReconnectPolicy,
    private readonly options: StreamOptions = {},
  ) {
    this._sessionId = plan.sessionId;
    this._lastEventId = plan.lastEventId;
  }

  /** The session's id, once the worker has named it (response header or `connected` event). */
  get sessionId(): string | undefined {
    return this._sessionId;
  }

  /** The id of the last event yielded. */
  get lastEventId(): number | undefined {
    return this._lastEventId;
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    if (this.started) throw new Error('an EventStream can be iterated only once');
    this.started = true;
    return this.follow();
  }

  private async *follow(): AsyncGenerator<StreamEvent> {
    const { signal } = this.options;
    let response = await this.connect((connection) => this.plan.open(connection));
    let lostAt: number | undefined;
    let attempt = 0;
    let isFirst = true;

    for (;;) {
      this._sessionId ??= response.headers.get('x-session-id') ?? undefined;
      let progressed = false;
      let cause: unknown;
      try {
        for await (const frame of readSse(response.body!, { signal, idleTimeoutMs: this.policy.idleTimeoutMs })) {
          // Anything arriving (a keep-alive too) means this connection works: a later loss starts a new count.
          lostAt = undefined;
          attempt = 0;
          if (frame.kind !== 'message') continue;
          // Live-only events (credentials_updated) come as named SSE events without an id of their own.
          if (frame.type !== 'message') {
            yield { id: this._lastEventId ?? 0, event: parseEvent(frame.data), liveOnly: true };
            continue;
          }
          const id = /^\d+$/.test(frame.lastEventId) ? Number(frame.lastEventId) : undefined;
          // Events are numbered; one at or below the last yielded is a replay (or has no id of its own).
          if (id === undefined || (this._lastEventId !== undefined && id <= this._lastEventId)) continue;
          const event = parseEvent(frame.data);
          if (event.type === 'connected') this._sessionId ??= event.sessionId;
          this._lastEventId = id;
          progressed = true;
          yield { id, event };
          if (this.plan.untilFinal && (event.type === 'completed' || event.type === 'error')) return;
        }
        if (!this.plan.untilFinal) return;
        // The worker ended a job's stream without its final event. A re-attached stream that
        // ended with nothing new will not do better: the job's end is not in the session's log.
        if (!isFirst && !progressed) {
          throw new WorkerConnectionError('the stream ended without its final event', this.position());
        }
        cause = new Error('the stream ended before its final event');
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof WorkerConnectionError) throw error;
        if (!isConnectionLoss(error)) throw error;
        cause = error;
      }
      isFirst = false;
      lostAt ??= Date.now();
      const resumed = await this.reattach(lostAt, attempt, cause);
      attempt = resumed.attempt;
      response = resumed.response;
    }
  }

  /** Re-attaches with backoff until a stream answers, or the loss has lasted `maxWaitMs`. */
  private async reattach(lostAt: number, attempt: number, cause: unknown): Promise<{ response: Response; attempt: number }> {
    const sessionId = this._sessionId;
    if (sessionId === undefined) {
      throw new WorkerConnectionError('the stream broke before the worker named the session', { cause });
    }
    if (this._lastEventId === undefined && this.plan.beforeFirstEvent === 'unknown') {
      throw new WorkerConnectionError(
        'the stream broke before its first event; re-attach with client.stream(sessionId) and skip earlier turns',
        { cause, sessionId },
      );
    }
    const deadline = lostAt + this.policy.maxWaitMs;
    for (;;) {
      attempt++;
      // The first attempt goes at once; later ones back off, or wait as long as a 429/503 asked.
      const wait = attempt === 1 ? 0 : isRetryable(cause) ? retryAfterMs(cause, attempt - 2) : backoffMs(attempt - 2, 250, 5_000);
      if (Date.now() + wait > deadline) {
        if (cause instanceof WorkerApiError) throw cause;
        throw new WorkerConnectionError(`could not re-attach to session ${sessionId} within ${this.policy.maxWaitMs} ms`, {
          cause,
          ...this.position(),
        });
      }
      await sleep(wait, this.options.signal);
      this.options.onReconnect?.({ sessionId, lastEventId: this._lastEventId, attempt, cause });
      try {
        const response = await this.connect(
          (connection) => this.plan.reattach(sessionId, this._lastEventId, connection),
          this.policy.idleTimeoutMs,
        );
        return { response, attempt };
      } catch (error) {
        if (this.options.signal?.aborted) throw this.options.signal.reason;
        if (!isRetryable(error) && !isConnectionLoss(error)) throw error;
        cause = error;
      }
    }
  }

  /**
   * Opens one connection under its own controller, linked to the caller's
   * signal; gives up on an answer that takes longer than `timeoutMs`.
   */
  private async connect(open: (signal: AbortSignal) => Promise<Response>, timeoutMs = 0): Promise<Response> {
    const { controller, dispose } = linkedController(this.options.signal);
    const timer = timeoutMs > 0 ? setTimeout(() => controller.abort(new ConnectTimeoutError(timeoutMs)), timeoutMs) : undefined;
    try {
      const response = await open(controller.signal);
      if (response.body === null) throw new WorkerConnectionError('the stream answered without a body', this.position());
      return response;
    } catch (error) {
      if (controller.signal.reason instanceof ConnectTimeoutError) throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      // From here on the reader watches the caller's signal itself.
      dispose();
    }
  }

  private position(): { sessionId?: string; lastEventId?: number } {
    return {
      ...(this._sessionId !== undefined ? { sessionId: this._sessionId } : {}),
      ...(this._lastEventId !== undefined ? { lastEventId: this._lastEventId } : {}),
    };
  }
}

class ConnectTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

/** An event frame that is not a JSON object with a `type`: a broken worker or proxy, not a lost connection. */
export class InvalidEventError extends Error {
  constructor(problem: string, data: string) {
    super(`the worker sent an event ${problem}: ${data.slice(0, 200)}`);
    this.name = 'InvalidEventError';
  }
}

/** Errors that mean the connection is gone, not that the worker refused: worth re-attaching. */
function isConnectionLoss(error: unknown): boolean {
  if (error instanceof WorkerApiError || error instanceof InvalidEventError) return false;
  if (error instanceof WorkerConnectionError) return error.cause !== undefined;
  // fetch reports a broken body as a TypeError ("terminated", "network error"); idle and connect timeouts are ours.
  return error instanceof Error;
}

function parseEvent(data: string): WorkerEvent {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new InvalidEventError('that is not JSON', data);
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    throw new InvalidEventError('without a type', data);
  }
  return value as WorkerEvent;
}
