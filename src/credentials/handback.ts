import type { ClaudeOauth } from '../providers/claude-credentials.js';

/**
 * Handing refreshed credentials back to the client (issue #12). Refresh tokens rotate:
 * once the worker has refreshed a login, the client's copy is spent, so the new one must
 * reach the client. It is sent live as a `credentials_updated` event; a client that was
 * not listening finds it here, through a one-time, authenticated
 * `GET /sessions/:id/credentials`, for a short time only.
 */

/** What the client gets back: the new login's tokens and expiry. */
export interface HandbackCredentials {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: number;
}

/**
 * Holds a session's newest refreshed credentials until the client takes them or their time
 * runs out. A later `put` replaces an earlier one: the newest login is the one that works.
 */
export interface CredentialHandback {
  put(sessionId: string, credentials: HandbackCredentials): Promise<void>;
  /** Returns the credentials once and forgets them; undefined when none wait (never put, taken, or expired). */
  take(sessionId: string): Promise<HandbackCredentials | undefined>;
  close?(): void;
}

/** The part of a refreshed Claude login that goes back to the client. */
export function handbackFromOauth(oauth: ClaudeOauth): HandbackCredentials {
  const credentials: HandbackCredentials = { accessToken: oauth.accessToken };
  if (typeof oauth.refreshToken === 'string') credentials.refreshToken = oauth.refreshToken;
  if (typeof oauth.expiresAt === 'number') credentials.expiresAt = oauth.expiresAt;
  return credentials;
}

/** A handback's time to live must be a whole, positive number of milliseconds (Redis `PX` takes nothing else). */
export function checkHandbackTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`handback ttl must be a positive whole number of milliseconds, got ${ttlMs}`);
  return ttlMs;
}
