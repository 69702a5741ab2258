import type { FastifyInstance } from 'fastify';
import type { ShutdownAnswer } from '../responses.js';
import type { ServerDeps } from '../server.js';

export type { ShutdownAnswer };

/**
 * POST /shutdown, the original worker's route: its clients send it after every
 * stream (issue #9). Whether the worker exits is the process owner's call
 * (main.ts, EXIT_AFTER_JOB); the route asks, and answers with what will happen.
 */
export function registerShutdownRoute(app: FastifyInstance, { requestShutdown }: ServerDeps): void {
  app.post('/shutdown', async (): Promise<ShutdownAnswer> => requestShutdown());
}
