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

  // Probes come every second or so (the image's HEALTHCHECK, Kubernetes): logging each would drown the log.
  const probe = { logLevel: 'warn' as const };

  app.get('/health', probe, async (): Promise<Health> => ({ status: 'ok', ...(await snapshot()), ready: readiness.ready }));

  app.get('/ready', probe, async (_request, reply): Promise<Ready> => {
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
