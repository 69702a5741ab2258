import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type RegisteredRoute } from '../openapi.js';
import type { ServerDeps } from '../server.js';

/**
 * GET /openapi.json. Register it before every other route: it records the
 * routes registered after it, and documents them. The document is built on
 * the first request and kept.
 */
export function registerOpenApiRoute(app: FastifyInstance, { config }: ServerDeps): void {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', ({ method, url }) => {
    for (const one of [method].flat()) routes.push({ method: one, url });
  });
  let document: Record<string, unknown> | undefined;
  app.get('/openapi.json', async () => (document ??= buildOpenApiDocument({ routes, tokenRequired: Boolean(config.apiToken) })));
}
