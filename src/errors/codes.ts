/**
 * The one registry of error codes. HTTP codes answer a request before any
 * stream starts; stream codes end a stream as an `error` event. A test checks
 * that every code here is documented in API.md.
 */
export const HTTP_ERROR_CODES = {
  VALIDATION_ERROR: { status: 400, error: 'invalid_request', message: 'The request is invalid.' },
  UNAUTHORIZED: { status: 401, error: 'unauthorized', message: 'A valid bearer token is required.' },
  SESSION_NOT_FOUND: { status: 404, error: 'not_found', message: 'No such session.' },
  NOT_FOUND: { status: 404, error: 'not_found', message: 'No such route.' },
  CREDENTIALS_NOT_FOUND: {
    status: 404,
    error: 'not_found',
    message: 'No refreshed credentials wait for this session: none were refreshed, they were taken already, or their time ran out.',
  },
  SESSION_BUSY: { status: 409, error: 'session_busy', message: 'The session is running a job.' },
  PAYLOAD_TOO_LARGE: { status: 413, error: 'payload_too_large', message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    error: 'unsupported_media_type',
    message: 'The request body must be application/json.',
  },
  WORKER_BUSY: { status: 429, error: 'worker_busy', message: 'The worker has no free job slot.' },
  QUEUE_FULL: { status: 429, error: 'queue_full', message: 'The job queue is full.' },
  INTERNAL_ERROR: { status: 500, error: 'internal_error', message: 'The worker failed unexpectedly.' },
  SHUTTING_DOWN: { status: 503, error: 'shutting_down', message: 'The worker is shutting down.' },
  NOT_READY: {
    status: 503,
    error: 'not_ready',
    message: 'The worker is not ready: its session store cannot be reached yet, or it is saving a session before it exits.',
  },
  QUEUE_UNAVAILABLE: {
    status: 503,
    error: 'queue_unavailable',
    message: 'The job queue (Redis) cannot be reached; retry later.',
  },
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERROR_CODES;

/** Codes of the `error` event that ends a stream. */
export const STREAM_ERROR_CODES = {
  VALIDATION_ERROR: 'The request could not be carried out as given.',
  GITHUB_ERROR: 'A git operation failed.',
  PROVIDER_ERROR: 'The coding agent or its model failed.',
  AUTH_ERROR: "The provider credential was refused and could not be refreshed.",
  STORAGE_ERROR: 'The session could not be saved or restored.',
  EXECUTION_ERROR: 'The job failed.',
  ABORTED: 'The job was aborted.',
  WORKER_LOST: 'The job was interrupted: its worker stopped before the job finished.',
  UNKNOWN_ERROR: 'An unexpected error occurred.',
} as const;

export type StreamErrorCode = keyof typeof STREAM_ERROR_CODES;
