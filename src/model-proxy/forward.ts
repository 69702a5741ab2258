/**
 * One model call through the proxy: the agent's request is buffered (it must be sendable again
 * after an OAuth refresh), sent upstream with the user's credential, and the response is
 * relayed chunk by chunk as it arrives, with the usage meter reading a copy behind it.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { sendError } from './api-errors.js';
import type { Grant } from './grant.js';
import { agentResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { Route } from './routes.js';
import type { Upstream } from './upstream.js';
import { createUsageMeter, type UsageMeter } from './usage-meter.js';
import type { CallUsage } from './types.js';

export interface CallContext {
  grant: Grant;
  upstream: Upstream;
  logger: Logger;
  maxRequestBytes: number;
  onCall?: (usage: CallUsage) => void;
}

/** Forwards one allowed, authenticated request; answers the agent in every case. */
export async function forwardCall(req: IncomingMessage, res: ServerResponse, route: Route, ctx: CallContext): Promise<void> {
  const started = performance.now();
  const { grant, logger } = ctx;
  const api = grant.api;
  const path = route.upstreamPath.split('?')[0];
  let upstreamRequest: ClientRequest | undefined;
  let agentGone = false;
  // The agent hung up (it timed out, or its job was aborted): the upstream call goes too,
  // so the user is not billed for tokens nobody reads.
  res.once('close', () => {
    if (res.writableFinished) return;
    agentGone = true;
    upstreamRequest?.destroy();
  });

  const body = await readBody(req, ctx.maxRequestBytes);
  if (body === 'too_large') return sendError(res, api, 'too_large', `The request body is larger than ${ctx.maxRequestBytes} bytes.`);
  if (body === 'aborted' || agentGone) return;

  const credential = grant.credential;
  if (credential.failed !== undefined) return sendError(res, api, 'authentication', credential.failed);
  // One refresh per call at most: after a refresh, a second 401 is the upstream's answer.
  let refreshed = false;
  if (credential.refreshable && credential.expiresSoon()) {
    refreshed = true;
    const result = await credential.refreshAfter(credential.current());
    if (!result.ok) return sendError(res, api, 'authentication', result.message);
    if (agentGone) return;
  }

  for (;;) {
    const used = credential.current();
    const headers = upstreamRequestHeaders(req.rawHeaders, used, body.length);
    const sent = await ctx.upstream.send(req.method ?? 'POST', route.upstreamPath, headers, body, (request) => {
      upstreamRequest = request;
      if (agentGone) request.destroy();
    });
    if (agentGone) return;
    if (!sent.ok) {
      const code = (sent.error as NodeJS.ErrnoException).code ?? sent.error.name;
      logger.warn({ api, sessionId: grant.sessionId, path, code }, 'model proxy: upstream unreachable');
      return sendError(res, api, 'upstream', `The model API could not be reached (${code}).`);
    }
    const { response } = sent;
    if (response.statusCode === 401 && credential.refreshable && !refreshed) {
      // The login was refused, likely expired early or revoked: the 401 is not the agent's
      // business yet. Its body is drained so the connection can be reused.
      response.resume();
      refreshed = true;
      const result = await credential.refreshAfter(used);
      if (!result.ok) return sendError(res, api, 'authentication', result.message);
      if (agentGone) return;
      continue;
    }

    const status = response.statusCode ?? 502;
    const meter = status >= 200 && status < 300 ? createUsageMeter(api, response.headers['content-type']) : undefined;
    const complete = await relay(response, res, meter);
    const usage = meter?.finish();
    if (usage) {
      grant.record(usage);
      try {
        ctx.onCall?.(usage);
      } catch (err) {
        logger.error({ err }, 'model proxy: onCall threw');
      }
    }
    logger.debug(
      { api, sessionId: grant.sessionId, method: req.method, path, status, ms: Math.round(performance.now() - started), complete, refreshed },
      'model call',
    );
    return;
  }
}

/**
 * Writes the upstream's status and headers at once, then each chunk as it comes, pausing the
 * upstream only while the agent's socket is full. Resolves true when the whole body went
 * through, false when either side broke off (then the agent's response is cut too, so the
 * agent sees a truncated stream, not a clean end).
 */
function relay(from: IncomingMessage, to: ServerResponse, meter: UsageMeter | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    to.writeHead(from.statusCode ?? 502, from.statusMessage ?? '', agentResponseHeaders(from.rawHeaders));
    // The head usually arrives with the first chunk (message_start): node then sends both in
    // one write, one wake-up of the agent instead of two. Only a head that came alone is
    // flushed on its own, still at once, before any wait for the model.
    let started = false;
    setImmediate(() => {
      if (!started && !to.writableEnded && !to.destroyed) to.flushHeaders();
    });
    from.on('data', (chunk: Buffer) => {
      started = true;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      meter?.push(chunk);
    });
    from.once('end', () => {
      to.end();
      resolve(true);
    });
    // A cut upstream stream errors and closes without 'end'; the error itself needs no handling.
    from.on('error', () => undefined);
    from.once('close', () => {
      if (from.complete) return;
      to.destroy();
      resolve(false);
    });
  });
}

/** The whole request body, or why there is none: over `max` bytes, or the agent hung up. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large' | 'aborted'> {
  if (Number(req.headers['content-length']) > max) return Promise.resolve('too_large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > max) {
        req.off('data', onData);
        req.pause();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, bytes)));
    req.once('error', () => resolve('aborted'));
    req.once('close', () => {
      if (!req.complete) resolve('aborted');
    });
  });
}
