import type { FastifyInstance } from 'fastify';
import { CONTAINER_ID } from '../container-id.js';
import type { BusyStatus, Health, IdleStatus, Ready } from '../responses.js';
import type { ServerDeps } from '../server.js';

export function registerHealthRoutes(app: FastifyInstance, { config, jobs, store, isolation, readiness }: ServerDeps): void {
  const snapshot = async () => {
    const { busy, ...state } = await jobs.snapshot();
    return {
      workerStatus: busy ? ('busy' as const) : ('idle' as const),
      ...state,
      role: config.role,
      storage: store.kind,
      isolation,
      containerId: CONTAINER_ID,
      timestamp: new Date().toISOString(),
    };
  };

  app.get('/health', async (): Promise<Health> => ({ status: 'ok', ...(await snapshot()), ready: readiness.ready }));

  app.get('/ready', async (_request, reply): Promise<Ready> => {
    if (readiness.ready) return { ready: true };
    reply.status(503);
    return { ready: false, reason: readiness.reason };
  });

  app.get('/status', async (_request, reply): Promise<IdleStatus | BusyStatus> => {
    const state = await snapshot();
    if (state.workerStatus === 'busy') {
      reply.status(429).header('Retry-After', '5');
      return { status: 'busy', ...state, retryAfter: 5 };
    }
    return { status: 'idle', ...state };
  });
}
