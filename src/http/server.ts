import os from 'node:os';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import { WorkerError } from '../errors/worker-error.js';
import type { JobManager } from '../jobs/job-manager.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { SessionStore } from '../storage/types.js';
import { assertBearerToken } from './auth.js';
import { registerExecuteRoute } from './routes/execute.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerSessionRoutes } from './routes/sessions.js';

export interface ServerDeps {
  config: Readonly<Config>;
  logger: Logger;
  jobs: JobManager;
  store: SessionStore;
  providers: ProviderRegistry;
}

export const CONTAINER_ID = os.hostname();

/** Builds the HTTP API: routes, auth, and one error shape for every failure before a stream. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.maxRequestBytes,
    // Long agent runs stream for a long time; never cut them off.
    requestTimeout: 0,
    return503OnClosing: true,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Container-ID', CONTAINER_ID);
    if (deps.config.apiToken && request.routeOptions.url !== '/health') {
      assertBearerToken(request.headers.authorization, deps.config.apiToken);
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const workerError = toWorkerError(error);
    if (workerError.code === 'INTERNAL_ERROR') request.log.error({ err: error }, 'request failed');
    if (workerError.retryAfter !== undefined) reply.header('Retry-After', String(workerError.retryAfter));
    return reply.status(workerError.status).send(workerError.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new WorkerError('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}.`);
    return reply.status(error.status).send(error.toBody());
  });

  registerHealthRoutes(app, deps);
  registerExecuteRoute(app, deps);
  registerSessionRoutes(app, deps);
  return app;
}

/** Maps Fastify's own errors (body parsing, limits) and unknown errors onto the contract's codes. */
function toWorkerError(error: FastifyError): WorkerError {
  if (error instanceof WorkerError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new WorkerError('PAYLOAD_TOO_LARGE', 'The request body is larger than the worker accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new WorkerError('UNSUPPORTED_MEDIA_TYPE');
  }
  if (error.statusCode === 413) return new WorkerError('PAYLOAD_TOO_LARGE');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new WorkerError('VALIDATION_ERROR', `The request body is not valid JSON: ${error.message}`);
  }
  return new WorkerError('INTERNAL_ERROR');
}
