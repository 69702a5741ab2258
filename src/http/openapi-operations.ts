import { z } from 'zod';
import type { HttpErrorCode } from '../errors/codes.js';
import { SESSION_ID_PATTERN, SESSION_ID_RULE } from '../sessions/session-id.js';
import { executeBodySchema } from './execute-request.js';
import {
  busyStatusSchema,
  healthSchema,
  readySchema,
  idleStatusSchema,
  sessionAbortedSchema,
  sessionCredentialsSchema,
  sessionDeletedSchema,
  sessionDetailsSchema,
  sessionListSchema,
  shutdownAnswerSchema,
} from './responses.js';

/**
 * What GET /openapi.json says about each route, keyed by Fastify's method and
 * URL. The schemas are the ones the routes use; openapi.ts turns this table
 * into the document. A route registered without an entry here is listed as
 * undocumented, and the OpenAPI test fails on it.
 */

export interface ResponseSpec {
  description: string;
  /** A JSON body, and the name of its schema in the document's components. */
  json?: { name: string; schema: z.ZodType };
  /** An SSE stream of WorkerEvent frames. */
  stream?: true;
  /** A text body of this media type. */
  text?: string;
  retryAfter?: true;
}

export interface OperationSpec {
  operationId: string;
  summary: string;
  description?: string;
  /** Open even when the worker has a token. */
  public?: true;
  parameters?: Array<Record<string, unknown>>;
  /** A JSON request body, documented from the input side of the schema that validates it. */
  body?: { name: string; schema: z.ZodType; required: boolean };
  responses: Record<string, ResponseSpec>;
  /** The error codes the route can answer with (INTERNAL_ERROR, and UNAUTHORIZED when a token is set, are added). */
  errors: HttpErrorCode[];
}

const sessionIdParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: `The session id: it ${SESSION_ID_RULE}.`,
  schema: { type: 'string', pattern: SESSION_ID_PATTERN.source },
};

/** POST /abort's body. The route checks it by hand (http/routes/sessions.ts); this says the same for the document. */
const abortBodySchema = z.object({ sessionId: z.string().regex(SESSION_ID_PATTERN) });

const json = (name: string, schema: z.ZodType) => ({ json: { name, schema } });

const streamDescription =
  'Server-Sent Events. Each frame is `id: <n>` and `data: <one-line JSON WorkerEvent>`; `n` counts from 1 within ' +
  'a session and keeps counting across its resumes. A `: keep-alive` comment is sent every KEEPALIVE_MS. The ' +
  'stream ends after a `completed` or `error` event. Live-only events (`credentials_updated`) come as ' +
  '`event: <type>` frames without an `id:`: they are never stored or replayed.';

export const OPERATIONS: Record<string, OperationSpec> = {
  'GET /health': {
    operationId: 'getHealth',
    summary: "The worker's state; never needs a token.",
    public: true,
    responses: { 200: { description: 'The worker is up.', ...json('Health', healthSchema) } },
    errors: [],
  },
  'GET /ready': {
    operationId: 'getReady',
    summary: 'Whether the worker takes new jobs (a readiness probe); never needs a token.',
    public: true,
    responses: {
      200: { description: 'Ready.', ...json('Ready', readySchema) },
      503: { description: 'Not ready, and why: the store cannot be reached yet, or a session waits to be saved before exit.', ...json('Ready', readySchema) },
    },
    errors: [],
  },
  'GET /status': {
    operationId: 'getStatus',
    summary: 'Whether the worker has a free job slot.',
    responses: {
      200: { description: 'A slot is free.', ...json('IdleStatus', idleStatusSchema) },
      429: { description: 'No slot is free.', ...json('BusyStatus', busyStatusSchema), retryAfter: true },
    },
    errors: [],
  },
  'POST /execute': {
    operationId: 'execute',
    summary: "Runs a job and streams its events; the session is saved after success and failure alike.",
    description:
      'Checks happen before any stream starts: authentication, body, fields, credentials, then admission. ' +
      'Failures after the stream started are its final `error` event.',
    body: { name: 'ExecuteRequest', schema: executeBodySchema, required: true },
    responses: { 200: { description: streamDescription, stream: true } },
    errors: [
      'VALIDATION_ERROR',
      'SESSION_NOT_FOUND',
      'SESSION_BUSY',
      'PAYLOAD_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
      'WORKER_BUSY',
      'QUEUE_FULL',
      'SHUTTING_DOWN',
      'NOT_READY',
      'QUEUE_UNAVAILABLE',
    ],
  },
  'GET /sessions': {
    operationId: 'listSessions',
    summary: 'The stored sessions, newest first; paged with `limit` and `offset`.',
    parameters: [
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
      { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
    ],
    responses: { 200: { description: 'The sessions.', ...json('SessionList', sessionListSchema) } },
    errors: ['VALIDATION_ERROR'],
  },
  'GET /sessions/:id': {
    operationId: 'getSession',
    summary: "A session's metadata.",
    parameters: [sessionIdParameter],
    responses: { 200: { description: 'The session.', ...json('SessionDetails', sessionDetailsSchema) } },
    errors: ['VALIDATION_ERROR', 'SESSION_NOT_FOUND'],
  },
  'DELETE /sessions/:id': {
    operationId: 'deleteSession',
    summary: 'Removes a session that is not running.',
    parameters: [sessionIdParameter],
    responses: { 200: { description: 'The session is gone.', ...json('SessionDeleted', sessionDeletedSchema) } },
    errors: ['VALIDATION_ERROR', 'SESSION_NOT_FOUND', 'SESSION_BUSY'],
  },
  'GET /sessions/:id/stream': {
    operationId: 'streamSession',
    summary: "A session's events: the stored ones, then live ones while its job runs.",
    parameters: [
      sessionIdParameter,
      {
        name: 'Last-Event-ID',
        in: 'header',
        required: false,
        description: 'Only events with a greater id are sent; anything but a whole number replays every event.',
        schema: { type: 'string' },
      },
    ],
    responses: { 200: { description: streamDescription, stream: true } },
    errors: ['VALIDATION_ERROR', 'SESSION_NOT_FOUND'],
  },
  'POST /sessions/:id/abort': {
    operationId: 'abortSession',
    summary: "Aborts the session's running job: its stream ends with an `error` event of code `ABORTED`.",
    parameters: [sessionIdParameter],
    responses: { 200: { description: 'The job is aborted.', ...json('SessionAborted', sessionAbortedSchema) } },
    errors: ['VALIDATION_ERROR', 'SESSION_NOT_FOUND'],
  },
  'GET /sessions/:id/credentials': {
    operationId: 'takeSessionCredentials',
    summary: "The Claude login the worker refreshed during the session's job, once.",
    description:
      'When a job refreshes an expired Claude OAuth login, the new tokens go to the connected clients in a live-only ' +
      '`credentials_updated` event and wait here for CREDENTIALS_HANDBACK_TTL_MS after the job, for a client that was ' +
      'not connected. The first successful read takes them: a second one answers 404. The old refresh token no longer works.',
    parameters: [sessionIdParameter],
    responses: { 200: { description: 'The refreshed login.', ...json('SessionCredentials', sessionCredentialsSchema) } },
    errors: ['VALIDATION_ERROR', 'CREDENTIALS_NOT_FOUND'],
  },
  'POST /abort': {
    operationId: 'abort',
    summary: "The original worker's abort route: the same as POST /sessions/{id}/abort.",
    body: { name: 'AbortRequest', schema: abortBodySchema, required: true },
    responses: { 200: { description: 'The job is aborted.', ...json('SessionAborted', sessionAbortedSchema) } },
    errors: ['VALIDATION_ERROR', 'SESSION_NOT_FOUND'],
  },
  'POST /shutdown': {
    operationId: 'shutdown',
    summary: "The original worker's shutdown route: with EXIT_AFTER_JOB the worker exits once no job runs.",
    responses: { 200: { description: 'What the worker will do.', ...json('ShutdownAnswer', shutdownAnswerSchema) } },
    errors: [],
  },
  'GET /metrics': {
    operationId: 'getMetrics',
    summary: "The worker's metrics for Prometheus: jobs, job durations, errors, events relayed, and Node's own.",
    description: 'API.md lists every metric with its type, its labels and the roles that report it.',
    responses: { 200: { description: 'The metrics in Prometheus text format 0.0.4.', text: 'text/plain; version=0.0.4' } },
    errors: [],
  },
  'GET /openapi.json': {
    operationId: 'getOpenApiDocument',
    summary: 'This document.',
    responses: { 200: { description: 'The OpenAPI 3.1 document.' } },
    errors: [],
  },
};
