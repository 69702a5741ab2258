/**
 * Errors the proxy answers itself, in the shape of the API the agent speaks, so the agent's
 * SDK shows them as it would the real API's (an Anthropic client reads `error.type`, an
 * OpenAI client `error.code`), and never as an opaque parse failure.
 */
import type { ServerResponse } from 'node:http';
import type { ModelApi } from './types.js';

export type ProxyErrorKind = 'authentication' | 'not_found' | 'too_large' | 'upstream';

const STATUS: Record<ProxyErrorKind, number> = {
  authentication: 401,
  not_found: 404,
  too_large: 413,
  upstream: 502,
};

/** Anthropic's `error.type` for each kind (https://docs.anthropic.com/en/api/errors). */
const ANTHROPIC_TYPE: Record<ProxyErrorKind, string> = {
  authentication: 'authentication_error',
  not_found: 'not_found_error',
  too_large: 'request_too_large',
  upstream: 'api_error',
};

/** OpenAI's `error.type` and `error.code` for each kind. */
const OPENAI_TYPE: Record<ProxyErrorKind, { type: string; code: string }> = {
  authentication: { type: 'invalid_request_error', code: 'invalid_api_key' },
  not_found: { type: 'invalid_request_error', code: 'not_found' },
  too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  upstream: { type: 'server_error', code: 'upstream_unreachable' },
};

/** The JSON body of an error of `kind`; without an api (an unknown prefix), OpenAI's shape, the more generic one. */
export function errorBody(api: ModelApi | undefined, kind: ProxyErrorKind, message: string): unknown {
  if (api === 'anthropic') return { type: 'error', error: { type: ANTHROPIC_TYPE[kind], message } };
  const { type, code } = OPENAI_TYPE[kind];
  return { error: { message, type, code, param: null } };
}

/** Answers an error of `kind`, unless the response is already under way or gone. */
export function sendError(res: ServerResponse, api: ModelApi | undefined, kind: ProxyErrorKind, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(errorBody(api, kind, message));
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  // A refused body may still be arriving: closing the connection is cheaper than draining it.
  if (kind === 'too_large') headers.connection = 'close';
  res.writeHead(STATUS[kind], headers);
  res.end(body);
}
