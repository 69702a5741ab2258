import { HTTP_ERROR_CODES, type HttpErrorCode, type StreamErrorCode } from './codes.js';
import type { ErrorBody } from './error-body.js';

/**
 * An expected failure that maps to a contract error body. Serialisable, so the
 * same shape can go over HTTP and, as an `error` event, over SSE.
 */
export class WorkerError extends Error {
  readonly code: HttpErrorCode;
  readonly field?: string;
  readonly retryAfter?: number;

  constructor(code: HttpErrorCode, message?: string, details: { field?: string; retryAfter?: number } = {}) {
    super(message ?? HTTP_ERROR_CODES[code].message);
    this.name = 'WorkerError';
    this.code = code;
    this.field = details.field;
    this.retryAfter = details.retryAfter;
  }

  get status(): number {
    return HTTP_ERROR_CODES[this.code].status;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: HTTP_ERROR_CODES[this.code].error, code: this.code, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    if (this.retryAfter !== undefined) body.retryAfter = this.retryAfter;
    return body;
  }
}

/** A failure inside a running job, reported as the stream's final `error` event. */
export class JobError extends Error {
  readonly code: StreamErrorCode;

  constructor(code: StreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobError';
    this.code = code;
  }
}

/** Shorthand for a 400 about one field of the request. */
export function invalidField(field: string, message: string): WorkerError {
  return new WorkerError('VALIDATION_ERROR', message, { field });
}
