import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../server.js';

/**
 * GET /metrics: the worker's metrics in Prometheus text format. It needs the
 * bearer token like every route but /health: the counts describe the worker's
 * traffic, and Prometheus sends a bearer token (`authorization` in its scrape config).
 */
export function registerMetricsRoute(app: FastifyInstance, { metrics }: ServerDeps): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });
}
