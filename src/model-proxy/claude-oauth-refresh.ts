import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { z } from 'zod';
import type { ClaudeOauth } from '../providers/claude-credentials.js';

/**
 * Refreshes a Claude OAuth login the way Claude Code 2.1.332 does (issue #12).
 * Everything here was read from the `claude` binary's own refresh function and
 * checked against what it sent to a recording endpoint (report of issue #12, part 3):
 * a JSON POST to TOKEN_URL with grant_type, refresh_token, client_id and scope, through
 * axios (hence the headers below), no redirects, and a reply of access_token,
 * refresh_token (rotated), expires_in and scope.
 */

/** Claude Code's `TOKEN_URL` (production; the binary accepts no local override). */
export const DEFAULT_CLAUDE_OAUTH_TOKEN_URL = 'https://platform.claude.com/v1/oauth/token';
/** Claude Code's `CLIENT_ID`; a login that carries its own `clientId` is refreshed with that one. */
export const CLAUDE_CODE_OAUTH_CLIENT_ID = '9d1c250a-e61b-44d9-88ed-5944d1962f5e';
/** The binary posts through axios with its default User-Agent; we send the same, so the endpoint sees no difference. */
const CLAUDE_CODE_USER_AGENT = 'axios/1.15.2';

/** The binary allows 30 s; a job waiting on its model should not wait that long. */
const REFRESH_TIMEOUT_MS = 15_000;
/** An endpoint's error text is echoed into messages and logs; keep it short. */
const MAX_DESCRIPTION_CHARS = 200;
/** A token reply is a few hundred bytes; anything near this is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * The scopes the binary asks for when refreshing a claude.ai login (its `uRn()`, with
 * `user:plugins` registered in production), then the optional ones the login already has.
 */
const CLAUDE_AI_SCOPES = ['user:profile', 'user:inference', 'user:sessions:claude_code', 'user:mcp_servers', 'user:file_upload', 'user:plugins'];
const KEPT_OPTIONAL_SCOPES = ['user:projects:read', 'user:projects:write', 'user:privacy_consents:write'];
const INFERENCE_SCOPE = 'user:inference';

export type ClaudeOauthRefreshFailure = 'no_refresh_token' | 'rejected' | 'network' | 'timeout' | 'aborted' | 'malformed';

/** A failed refresh. Its message names the status and the endpoint's error code, never a token. */
export class ClaudeOauthRefreshError extends Error {
  readonly reason: ClaudeOauthRefreshFailure;
  readonly status?: number;
  /** The endpoint's `error` code, e.g. `invalid_grant` (the refresh token is spent or revoked). */
  readonly oauthError?: string;

  constructor(reason: ClaudeOauthRefreshFailure, message: string, details: { status?: number; oauthError?: string } = {}) {
    super(message);
    this.name = 'ClaudeOauthRefreshError';
    this.reason = reason;
    this.status = details.status;
    this.oauthError = details.oauthError;
  }

  /** Worth trying again later: the endpoint or the network failed, the login itself was not refused. */
  get transient(): boolean {
    if (this.reason === 'network' || this.reason === 'timeout') return true;
    return this.reason === 'rejected' && this.status !== undefined && (this.status === 429 || this.status >= 500);
  }
}

const TokenResponse = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().finite().optional(),
  refresh_token_expires_in: z.number().finite().optional(),
  scope: z.string().optional(),
});

/**
 * Exchanges the login's refresh token for a new login. Fields the reply does not replace are
 * kept; the refresh token rotates, so the caller must hand the result back to the client.
 */
export async function refreshClaudeOauth(input: { tokenUrl: string; oauth: ClaudeOauth; signal: AbortSignal; timeoutMs?: number }): Promise<ClaudeOauth> {
  const { oauth } = input;
  const refreshToken = oauth.refreshToken;
  if (typeof refreshToken !== 'string' || refreshToken === '') {
    throw new ClaudeOauthRefreshError('no_refresh_token', 'The Claude login has expired and has no refresh token; the client must log in again.');
  }
  const timeout = AbortSignal.timeout(input.timeoutMs ?? REFRESH_TIMEOUT_MS);
  const signal = AbortSignal.any([input.signal, timeout]);
  const secrets = [refreshToken, oauth.accessToken];
  const clientId = typeof oauth.clientId === 'string' && oauth.clientId !== '' ? oauth.clientId : CLAUDE_CODE_OAUTH_CLIENT_ID;
  const plan = planScopes(oauth);

  try {
    let reply = await postRefresh(input.tokenUrl, { refreshToken, clientId, scopes: plan.scopes }, signal);
    // The binary widens a claude.ai login's scopes and, if the endpoint refuses the wider set,
    // asks once more for exactly what the login had.
    if (plan.fallback && reply.status === 400 && errorOf(reply.body).code === 'invalid_scope') {
      reply = await postRefresh(input.tokenUrl, { refreshToken, clientId, scopes: plan.fallback }, signal);
    }
    return toLogin(oauth, reply, secrets);
  } catch (err) {
    if (err instanceof ClaudeOauthRefreshError) throw err;
    if (input.signal.aborted) throw new ClaudeOauthRefreshError('aborted', 'The Claude login refresh was aborted.');
    if (timeout.aborted) {
      throw new ClaudeOauthRefreshError('timeout', `The Claude login refresh timed out after ${input.timeoutMs ?? REFRESH_TIMEOUT_MS} ms.`);
    }
    throw new ClaudeOauthRefreshError('network', `The Claude login could not be refreshed: the token endpoint could not be reached (${causeOf(err)}).`);
  }
}

/**
 * Which scopes to ask for, as the binary decides: a claude.ai login (it holds `user:inference`
 * or names a subscription) with Claude Code's own client id gets Claude Code's full set plus the
 * optional scopes it already has, with its own scopes as the fallback; any other login asks for
 * its own scopes (Claude Code's set when it names none).
 */
function planScopes(oauth: ClaudeOauth): { scopes: string[]; fallback?: string[] } {
  const own = Array.isArray(oauth.scopes) ? oauth.scopes : [];
  const claudeAi = (own.includes(INFERENCE_SCOPE) || Boolean(oauth.subscriptionType)) && !oauth.clientId;
  if (!claudeAi) return { scopes: own.length > 0 ? own : CLAUDE_AI_SCOPES };
  const widened = [...new Set([...CLAUDE_AI_SCOPES, ...own.filter((s) => KEPT_OPTIONAL_SCOPES.includes(s))])];
  return { scopes: widened, fallback: own.includes(INFERENCE_SCOPE) ? own : undefined };
}

async function postRefresh(
  tokenUrl: string,
  request: { refreshToken: string; clientId: string; scopes: string[] },
  signal: AbortSignal,
): Promise<{ status: number; body: unknown }> {
  // Key order as the binary builds it.
  const payload = JSON.stringify({
    grant_type: 'refresh_token',
    refresh_token: request.refreshToken,
    client_id: request.clientId,
    scope: request.scopes.join(' '),
  });
  const { status, text } = await postJson(new URL(tokenUrl), payload, signal);
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: kept as text, only ever reported by status.
  }
  return { status, body };
}

/**
 * One POST with node:http(s) rather than fetch, whose own headers (sec-fetch-mode,
 * accept-language, keep-alive) the binary's axios does not send. Headers in axios's order;
 * no redirect is followed (axios maxRedirects: 0), so a refresh token goes to the token URL only.
 */
function postJson(url: URL, payload: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (!send) return Promise.reject(new ClaudeOauthRefreshError('network', `The Claude OAuth token URL must be http(s), not ${url.protocol}.`));
  const headers: Array<[string, string]> = [
    ['Accept', 'application/json, text/plain, */*'],
    ['Content-Type', 'application/json'],
    ['User-Agent', CLAUDE_CODE_USER_AGENT],
    ['Content-Length', String(Buffer.byteLength(payload))],
    ['Accept-Encoding', 'gzip, compress, deflate, br'],
    ['Host', url.host],
    ['Connection', 'close'],
  ];
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers: headers.flat(), agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const body = decoded(res);
      body.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('the token endpoint\'s reply is too large'));
        else chunks.push(chunk);
      });
      body.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      body.on('error', reject);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The reply's body, decompressed as axios would (it asked for gzip, deflate and br). */
function decoded(res: IncomingMessage): NodeJS.ReadableStream {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (!decoder) return res;
  res.on('error', (err) => decoder.destroy(err));
  return res.pipe(decoder);
}

function toLogin(old: ClaudeOauth, reply: { status: number; body: unknown }, secrets: string[]): ClaudeOauth {
  // The binary takes only a 200 as success.
  if (reply.status !== 200) {
    const { code, description } = errorOf(reply.body);
    const detail = scrub([code, description].filter(Boolean).join(': '), secrets);
    throw new ClaudeOauthRefreshError(
      'rejected',
      `The Claude login could not be refreshed: the token endpoint answered ${reply.status}${detail ? ` (${detail})` : ''}.`,
      { status: reply.status, oauthError: code && scrub(code, secrets) },
    );
  }
  const parsed = TokenResponse.safeParse(reply.body);
  if (!parsed.success) {
    throw new ClaudeOauthRefreshError('malformed', 'The Claude login could not be refreshed: the token endpoint answered 200 without an access token.', {
      status: 200,
    });
  }
  const token = parsed.data;
  const now = Date.now();
  const next: ClaudeOauth = { ...old, accessToken: token.access_token, refreshToken: token.refresh_token ?? old.refreshToken };
  // The old expiry belongs to the old token; without expires_in the new one's is unknown.
  if (token.expires_in !== undefined) next.expiresAt = now + token.expires_in * 1000;
  else delete next.expiresAt;
  if (token.refresh_token_expires_in !== undefined) next.refreshTokenExpiresAt = now + token.refresh_token_expires_in * 1000;
  if (token.scope !== undefined) next.scopes = token.scope.split(' ').filter(Boolean);
  return next;
}

/** The endpoint's error code and text: OAuth's `{error, error_description}` or Anthropic's `{error: {type, message}}`. */
function errorOf(body: unknown): { code?: string; description?: string } {
  if (body === null || typeof body !== 'object') return {};
  const { error, error_description } = body as { error?: unknown; error_description?: unknown };
  const nested = error !== null && typeof error === 'object' ? (error as { type?: unknown; message?: unknown }) : undefined;
  const code = typeof error === 'string' ? error : typeof nested?.type === 'string' ? nested.type : undefined;
  const description =
    typeof error_description === 'string' ? error_description : typeof nested?.message === 'string' ? nested.message : undefined;
  return { code: code?.slice(0, 64), description };
}

/** An endpoint that echoes a token back must not put it into our message. */
function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[REDACTED]');
  return out.length > MAX_DESCRIPTION_CHARS ? `${out.slice(0, MAX_DESCRIPTION_CHARS)}…` : out;
}

/** A network error's code (ECONNREFUSED, ...) rather than its message, which may quote the URL. */
function causeOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : 'unknown error';
}
