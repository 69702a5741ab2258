import type { FastifyInstance } from 'fastify';
import { WorkerError } from '../../errors/worker-error.js';
import { parseExecuteRequest } from '../execute-request.js';
import { CONTAINER_ID } from '../container-id.js';
import type { ServerDeps } from '../server.js';
import { openSseStream } from '../sse.js';

/**
 * POST /execute: validates, admits the job (or answers 4xx before any stream),
 * then streams the job's events. A client that disconnects leaves the job
 * running; it can re-attach through GET /sessions/:id/stream.
 */
export function registerExecuteRoute(app: FastifyInstance, { config, jobs, providers, readiness, metrics }: ServerDeps): void {
  app.post('/execute', async (request, reply) => {
    const executeRequest = parseExecuteRequest(request.body, config, providers);
    if (!readiness.ready) throw new WorkerError('NOT_READY', `The worker is not ready: ${readiness.reason}.`);
    const job = await jobs.start(executeRequest, request.body);

    reply.hijack();
    const stream = openSseStream(reply.raw, {
      keepAliveMs: config.keepAliveMs,
      onEventSent: () => metrics.eventsRelayed(),
      headers: { 'X-Container-ID': CONTAINER_ID, 'X-Session-ID': job.sessionId },
    });
    const unsubscribe = job.feed.subscribe(
      job.firstEventId - 1,
      (event) => stream.send(event),
      () => stream.close(),
      (event) => stream.sendLiveOnly(event),
    );
    stream.onClose(unsubscribe);
  });
}
