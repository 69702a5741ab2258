import type { ErrorBody, WorkerErrorCode } from './types.js';

/**
 * The worker answered with an error before any stream started: the contract's
 * error body `{error, code, message, field?}` and the HTTP status. A response
 * whose body is not that shape (a proxy's error page) gets code `HTTP_<status>`.
 */
export class WorkerApiError extends Error {
  readonly status: number;
  readonly code: WorkerErrorCode;
  /** The contract's short word, e.g. `invalid_request`. */
  readonly error: string;
  /** The request field at fault (`VALIDATION_ERROR`). */
  readonly field?: string;
  /** Seconds to wait before retrying (429, 503), from `Retry-After` or the body. */
  readonly retryAfter?: number;

  constructor(status: number, body: ErrorBody) {
    super(body.message);
    this.name = 'WorkerApiError';
    this.status = status;
    this.code = body.code;
    this.error = body.error;
    if (body.field !== undefined) this.field = body.field;
    if (body.retryAfter !== undefined) this.retryAfter = body.retryAfter;
  }

  /** The same error as the contract's JSON body. */
  toJSON(): ErrorBody & { status: number } {
    const body: ErrorBody & { status: number } = { status: this.status, error: this.error, code: this.code, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    if (this.retryAfter !== undefined) body.retryAfter = this.retryAfter;
    return body;
  }
}

/**
 * No usable answer: the worker could not be reached, or a stream broke and
 * could not be re-attached within the client's bound. `sessionId` and
 * `lastEventId` say where to pick up with `client.stream()` later.
 */
export class WorkerConnectionError extends Error {
  readonly sessionId?: string;
  readonly lastEventId?: number;

  constructor(message: string, details: { cause?: unknown; sessionId?: string; lastEventId?: number } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WorkerConnectionError';
    if (details.sessionId !== undefined) this.sessionId = details.sessionId;
    if (details.lastEventId !== undefined) this.lastEventId = details.lastEventId;
  }
}

/** Reads a non-2xx response into a WorkerApiError. */
export async function readApiError(response: Response): Promise<WorkerApiError> {
  const text = await response.text().catch(() => '');
  const body = parseErrorBody(text);
  const retryAfter = parseRetryAfterHeader(response.headers.get('retry-after')) ?? body?.retryAfter;
  return new WorkerApiError(response.status, {
    error: body?.error ?? 'http_error',
    code: body?.code ?? `HTTP_${response.status}`,
    message: body?.message ?? `HTTP ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`.trim(),
    ...(body?.field !== undefined ? { field: body.field } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

function parseErrorBody(text: string): Partial<ErrorBody> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.code !== 'string' || typeof record.message !== 'string') return undefined;
  return {
    code: record.code,
    message: record.message,
    error: typeof record.error === 'string' ? record.error : 'error',
    ...(typeof record.field === 'string' ? { field: record.field } : {}),
    ...(typeof record.retryAfter === 'number' && record.retryAfter >= 0 ? { retryAfter: record.retryAfter } : {}),
  };
}

/** `Retry-After` in seconds: delta-seconds, or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfterHeader(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}
