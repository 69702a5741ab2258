import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { CredentialHandback } from '../credentials/handback.js';
import { WorkerError } from '../errors/worker-error.js';
import type { IsolationStatus } from '../isolation/types.js';
import type { Readiness } from '../lifecycle/readiness.js';
import type { JobControl } from '../jobs/job-control.js';
import type { WorkerMetrics } from '../metrics/metrics.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { invalidSessionIdParam, SESSION_ID_MAX_LENGTH } from '../sessions/session-id.js';
import type { SessionStore } from '../storage/types.js';
import { assertBearerToken } from './auth.js';
import { CONTAINER_ID } from './container-id.js';
import { registerJsonBodyParser } from './json-body.js';
import { registerExecuteRoute } from './routes/execute.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import { registerSessionRoutes } from './routes/sessions.js';
import { registerShutdownRoute, type ShutdownAnswer } from './routes/shutdown.js';

/** Probes, which orchestrators call without a token. */
const PUBLIC_ROUTES = new Set(['/health', '/ready']);

export interface ServerDeps {
  config: Readonly<Config>;
  logger: Logger;
  /** Where jobs run: here (standalone) or on the queue's workers (gateway). */
  jobs: JobControl;
  store: SessionStore;
  providers: ProviderRegistry;
  /** Whether new jobs are taken (GET /ready; POST /execute answers 503 NOT_READY while not). */
  readiness: Readiness;
  /** The isolation in force, for /health. */
  isolation: IsolationStatus;
  /** GET /metrics, and what the server counts: error answers, events sent to SSE clients. */
  metrics: WorkerMetrics;
  /** GET /sessions/:id/credentials: refreshed logins waiting for their client. */
  handback: CredentialHandback;
  /** POST /shutdown: the process owner decides whether the worker exits (and makes it so), and says what happens. */
  requestShutdown: () => ShutdownAnswer;
}

/** Builds the HTTP API: routes, auth, and one error shape for every failure before a stream. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const authorize = (request: FastifyRequest): void => {
    if (deps.config.apiToken && !PUBLIC_ROUTES.has(request.routeOptions.url ?? '')) {
      assertBearerToken(request.headers.authorization, deps.config.apiToken);
    }
  };

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.maxRequestBytes,
    // Long agent runs stream for a long time; never cut them off.
    requestTimeout: 0,
    return503OnClosing: true,
    // Session ids are the only path parameters. The router takes exactly the ids
    // POST /execute accepts; a longer one is FST_ERR_MAX_PARAM_LENGTH (414 by
    // default), answered below with the same 400 as any other invalid id (issue #8).
    routerOptions: { maxParamLength: SESSION_ID_MAX_LENGTH },
    // The router's own errors (a too-long or undecodable path segment) skip the
    // hooks and the error handler: answer them like every other request,
    // authentication first, then the contract's error body.
    frameworkErrors: (error, request, reply) => {
      reply.header('X-Container-ID', CONTAINER_ID);
      try {
        authorize(request);
      } catch (authError) {
        return sendError(authError as FastifyError, request, reply);
      }
      return sendError(error, request, reply);
    },
  });

  /** Answers any failure before a stream with the contract's error body. */
  function sendError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const workerError = toWorkerError(error);
    if (workerError.code === 'INTERNAL_ERROR') request.log.error({ err: error }, 'request failed');
    if (workerError.retryAfter !== undefined) reply.header('Retry-After', String(workerError.retryAfter));
    deps.metrics.errorAnswered(workerError.code);
    return reply.status(workerError.status).send(workerError.toBody());
  }

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Container-ID', CONTAINER_ID);
    authorize(request);
  });

  app.setErrorHandler(sendError);
  registerJsonBodyParser(app);

  app.setNotFoundHandler((request, reply) => {
    const error = new WorkerError('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}.`);
    deps.metrics.errorAnswered(error.code);
    return reply.status(error.status).send(error.toBody());
  });

  // First: it documents the routes registered after it.
  registerOpenApiRoute(app, deps);
  registerHealthRoutes(app, deps);
  registerMetricsRoute(app, deps);
  // A queue worker takes its jobs from the queue: the public API is the gateway's.
  if (deps.config.role === 'worker') return app;
  registerExecuteRoute(app, deps);
  registerSessionRoutes(app, deps);
  registerShutdownRoute(app, deps);
  return app;
}

/** Maps Fastify's own errors (routing, body reading, limits) and unknown errors onto the contract's codes. */
function toWorkerError(error: FastifyError): WorkerError {
  if (error instanceof WorkerError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new WorkerError('PAYLOAD_TOO_LARGE', 'The request body is larger than the worker accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new WorkerError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return invalidSessionIdParam();
    case 'FST_ERR_BAD_URL':
      return new WorkerError('VALIDATION_ERROR', 'The request path has a malformed %-escape.');
  }
  if (error.statusCode === 413) return new WorkerError('PAYLOAD_TOO_LARGE');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // JSON syntax errors are the body parser's own WorkerErrors; these are about reading the body.
    return new WorkerError('VALIDATION_ERROR', `The request is not valid: ${error.message}`);
  }
  return new WorkerError('INTERNAL_ERROR');
}
