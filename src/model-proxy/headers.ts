/**
 * The headers that cross the proxy: the agent's request headers minus its job token plus the
 * user's real credential on the way up, the upstream's response headers on the way down.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { UpstreamCredential } from './types.js';

/** Headers about one connection, never forwarded (RFC 9110 §7.6.1), plus the legacy ones. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Dropped from the agent's request besides hop-by-hop ones: `host` (the upstream's own is set
 * by node), the job token's two carriers, and `content-length` (set from the buffered body).
 * `accept-encoding` is replaced by `identity`: the usage meter reads the response bytes as they
 * pass, which a gzip body would hide; agent and proxy share loopback, so nothing is lost there.
 */
const DROPPED_REQUEST = new Set(['host', 'x-api-key', 'authorization', 'content-length', 'accept-encoding']);

const OAUTH_BETA = 'oauth-2025-04-20';

/** The upstream request's headers, from the agent's raw headers and the user's credential. */
export function upstreamRequestHeaders(rawHeaders: string[], credential: UpstreamCredential, bodyLength: number): OutgoingHttpHeaders {
  const named = connectionTokens(rawHeaders);
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || DROPPED_REQUEST.has(name) || named.has(name)) continue;
    const value = rawHeaders[i + 1]!;
    const seen = headers[name];
    headers[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  headers['accept-encoding'] = 'identity';
  headers['content-length'] = String(bodyLength);
  if (credential.kind === 'oauth') {
    headers.authorization = `Bearer ${credential.oauth.accessToken}`;
    headers['anthropic-beta'] = withBeta(headers['anthropic-beta'], OAUTH_BETA);
  } else if (credential.api === 'anthropic') {
    headers['x-api-key'] = credential.apiKey;
  } else {
    headers.authorization = `Bearer ${credential.apiKey}`;
  }
  return headers;
}

/** The upstream's response headers for the agent, as a flat raw list (names and repeats kept). */
export function agentResponseHeaders(rawHeaders: string[]): string[] {
  const named = connectionTokens(rawHeaders);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return out;
}

/** The agent's betas (every `anthropic-beta` value, comma lists split) with `beta` added once. */
function withBeta(current: string | string[] | undefined, beta: string): string {
  const values = (Array.isArray(current) ? current : current === undefined ? [] : [current])
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
  if (!values.includes(beta)) values.push(beta);
  return values.join(',');
}

/** Header names a `Connection` header declares hop-by-hop for this message. */
function connectionTokens(rawHeaders: string[]): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[i + 1]!.split(',')) names.add(token.trim().toLowerCase());
  }
  return names;
}
