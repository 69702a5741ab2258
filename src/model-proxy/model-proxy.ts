/**
 * The worker's model proxy (issue #12): one HTTP server on loopback that every job's agent
 * talks to instead of its model API. A job gets a grant, a random token that is worthless
 * outside that job; the proxy checks it, forwards the allowed model API calls with the user's
 * real credential, and meters their usage on the way back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { sendError } from './api-errors.js';
import { forwardCall } from './forward.js';
import { Grant } from './grant.js';
import { API_PREFIX, matchRoute, presentedToken } from './routes.js';
import { Upstream } from './upstream.js';
import type { CallUsage, ModelApi, ProxyGrant, ProxyJobOptions } from './types.js';

/** Request bodies are whole conversations, images included: tens of MB at most. */
const DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/**
 * How long an idle agent connection stays open. Node's default (5 s) is shorter than an agent's
 * pause between two model calls while a tool runs, and a request sent just as the server
 * closes the socket fails; with `CLAUDE_CODE_MAX_RETRIES=0` that fails the job. Loopback
 * sockets are cheap, so the client's own idle timeout decides instead.
 */
const KEEP_ALIVE_MS = 10 * 60_000;

export interface ModelProxyOptions {
  /** Base URLs of the real APIs: e.g. `https://api.anthropic.com`, `https://api.openai.com/v1` (with its `/v1`). */
  upstreams: { anthropic: string; openai: string };
  logger: Logger;
  /** Every metered call of every job, as it finishes. */
  onCall?: (usage: CallUsage) => void;
  /** Larger request bodies are refused with 413. Default 32 MiB. */
  maxRequestBytes?: number;
}

export class ModelProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Grants by the SHA-256 of their token: a lookup never compares the secret itself. */
  private readonly grants = new Map<string, Grant>();

  private constructor(
    private readonly server: Server,
    port: number,
    private readonly upstreams: Record<ModelApi, Upstream>,
    private readonly options: ModelProxyOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
  }

  /** Listens on 127.0.0.1 with an ephemeral port. */
  static async start(options: ModelProxyOptions): Promise<ModelProxy> {
    const upstreams = { anthropic: new Upstream(options.upstreams.anthropic), openai: new Upstream(options.upstreams.openai) };
    const server = createServer({ noDelay: true, keepAliveTimeout: KEEP_ALIVE_MS });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new ModelProxy(server, (server.address() as AddressInfo).port, upstreams, options);
  }

  /** A new grant for a job's agent; its api is the credential's. */
  open(job: ProxyJobOptions): ProxyGrant {
    const token = randomBytes(32).toString('base64url');
    const key = tokenKey(token);
    const api = job.credential.api;
    const grant = new Grant(token, `${this.url}${API_PREFIX[api]}`, job, () => this.grants.delete(key), this.options.logger);
    this.grants.set(key, grant);
    return grant;
  }

  /** Stops listening and cuts every call in flight; the grants are revoked. */
  async close(): Promise<void> {
    for (const grant of [...this.grants.values()]) {
      grant.credential.abort();
      grant.revoke();
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.upstreams.anthropic.close();
    this.upstreams.openai.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const { logger } = this.options;
    const route = matchRoute(req.method, req.url);
    if (!route) return sendError(res, undefined, 'not_found', 'Unknown path: the model proxy serves /anthropic/… and /openai/v1/….');
    const path = route.upstreamPath.split('?')[0];
    const token = presentedToken(route.api, req.headers);
    const grant = token === undefined ? undefined : this.grants.get(tokenKey(token));
    if (!grant || grant.api !== route.api) {
      const reason = token === undefined ? 'no token' : 'unknown token';
      logger.debug({ api: route.api, method: req.method, path, reason }, 'model proxy: refused');
      return sendError(res, route.api, 'authentication', 'Invalid or revoked job token.');
    }
    if (!route.allowed) {
      logger.debug({ api: route.api, sessionId: grant.sessionId, method: req.method, path }, 'model proxy: path not allowed');
      return sendError(res, route.api, 'not_found', `${req.method} ${path} is not available through the worker's model proxy.`);
    }
    const context = {
      grant,
      upstream: this.upstreams[route.api],
      logger,
      maxRequestBytes: this.options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      ...(this.options.onCall ? { onCall: this.options.onCall } : {}),
    };
    forwardCall(req, res, route, context).catch((err: unknown) => {
      logger.error({ err, api: route.api, sessionId: grant.sessionId }, 'model proxy: call failed');
      if (res.headersSent) res.destroy();
      else sendError(res, route.api, 'upstream', 'The model proxy failed to forward the call.');
    });
  }
}

function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
