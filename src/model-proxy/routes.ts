/**
 * Which requests the proxy forwards: the model API paths the real agents need, and nothing
 * else. A job token is a key to the user's model account, not to the rest of the user's API
 * surface (files, batches, admin endpoints); whatever is not listed here never reaches the
 * upstream.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ModelApi } from './types.js';

/** Where each api lives on the proxy; the grant's `baseUrl` is the proxy URL plus this. */
export const API_PREFIX: Record<ModelApi, string> = {
  anthropic: '/anthropic',
  openai: '/openai/v1',
};

/**
 * `METHOD path` (below the prefix, without the query) the proxy forwards. Found by running the
 * real binaries through the proxy against the fakes (test/model-proxy/real-agents.test.ts):
 *  - claude 2.1 with the provider's quiet env sends only `POST /v1/messages?beta=true`;
 *    `count_tokens` is the Messages API's own token counter, which Claude Code uses to size
 *    its context (free, no generation), so it stays allowed.
 *  - codex 0.163 with an API key and a custom provider sends only `POST /responses`; the
 *    `GET /models` it makes with ChatGPT tokens never happens here, since the agent only ever
 *    holds a job token used as an API key.
 */
const ALLOWED: Record<ModelApi, ReadonlySet<string>> = {
  anthropic: new Set(['POST /v1/messages', 'POST /v1/messages/count_tokens']),
  openai: new Set(['POST /responses']),
};

export interface Route {
  api: ModelApi;
  /** The path below the api's prefix, query included, exactly as the agent sent it. */
  upstreamPath: string;
  /** On the allowlist: to be forwarded. */
  allowed: boolean;
}

/**
 * Splits a request target into api and path. Undefined: no api prefix at all. The allowlist is
 * an exact string match on the raw path, so `..`, `%2F` or a doubled slash can never turn an
 * allowed path into another one upstream; the agents send none of these.
 */
export function matchRoute(method: string | undefined, target: string | undefined): Route | undefined {
  if (!target?.startsWith('/')) return undefined;
  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  for (const api of ['anthropic', 'openai'] as const) {
    const prefix = API_PREFIX[api];
    if (!path.startsWith(`${prefix}/`)) continue;
    const below = path.slice(prefix.length);
    return { api, upstreamPath: target.slice(prefix.length), allowed: ALLOWED[api].has(`${method ?? ''} ${below}`) };
  }
  return undefined;
}

/**
 * The job token the agent presents: Claude Code sends an API key as `x-api-key` and an auth
 * token (ANTHROPIC_AUTH_TOKEN) as a bearer; Codex sends its key as a bearer.
 */
export function presentedToken(api: ModelApi, headers: IncomingHttpHeaders): string | undefined {
  if (api === 'anthropic') {
    const apiKey = headers['x-api-key'];
    if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}
