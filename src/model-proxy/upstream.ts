/**
 * One model API the proxy forwards to: its base URL (https in production, http on loopback in
 * tests) and a keep-alive agent, so a model call after the first skips the TCP and TLS
 * handshakes — those would cost more than everything else the proxy adds.
 */
import http, { type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';

export type SendOutcome = { ok: true; response: IncomingMessage; request: ClientRequest } | { ok: false; error: Error };

export class Upstream {
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly hostname: string;
  private readonly port: number | undefined;
  private readonly basePath: string;

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`model upstream ${url.origin} is not http(s)`);
    const secure = url.protocol === 'https:';
    this.transport = secure ? https : http;
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    // `new URL` keeps IPv6 brackets, which node's request options do not take.
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = url.port === '' ? undefined : Number(url.port);
    this.basePath = url.pathname.replace(/\/+$/, '');
  }

  /**
   * Sends one request with its whole body and resolves with the response head, or the error
   * that prevented it. A keep-alive socket the upstream closed while it sat idle in the pool
   * fails at once with ECONNRESET; node's advice is to send again on a fresh socket
   * (`reusedSocket`), which the buffered body allows. (An upstream that reset the connection
   * after reading the request would see it twice; the agents' SDKs retry that error anyway.)
   * `onRequest` gets each request, so the caller can abort it.
   */
  async send(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body: Buffer,
    onRequest: (request: ClientRequest) => void,
  ): Promise<SendOutcome> {
    const first = await this.sendOnce(method, path, headers, body, onRequest);
    if (first.ok || !first.reusedSocket || (first.error as NodeJS.ErrnoException).code !== 'ECONNRESET') return first;
    return this.sendOnce(method, path, headers, body, onRequest);
  }

  /** Closes the idle sockets; requests in flight keep theirs. */
  close(): void {
    this.agent.destroy();
  }

  private sendOnce(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body: Buffer,
    onRequest: (request: ClientRequest) => void,
  ): Promise<SendOutcome & { reusedSocket?: boolean }> {
    return new Promise((resolve) => {
      const request = this.transport.request({
        hostname: this.hostname,
        port: this.port,
        method,
        path: this.basePath + path,
        headers,
        agent: this.agent,
      });
      onRequest(request);
      request.setNoDelay(true);
      // Errors after the response head (a cut stream) surface on the response; this listener
      // also keeps them from being unhandled.
      request.on('error', (error) => resolve({ ok: false, error, reusedSocket: request.reusedSocket }));
      request.once('response', (response) => resolve({ ok: true, response, request }));
      request.end(body);
    });
  }
}
