/**
 * The user's real credential for one job, and its renewal: a Claude OAuth login is refreshed
 * before it expires and after the upstream refuses it, once for all the job's calls at a time.
 */
import type { Logger } from 'pino';
import type { ClaudeOauth } from '../providers/claude-credentials.js';
import type { ProxyJobOptions, UpstreamCredential } from './types.js';

/**
 * A login this close to its `expiresAt` is refreshed before it is sent: Claude Code's own
 * margin (its refresh check is `now + 5 min >= expiresAt`), so a long call does not outlive it.
 */
const EXPIRY_MARGIN_MS = 5 * 60_000;

export type RefreshResult = { ok: true } | { ok: false; message: string };

export class JobCredential {
  private credential: UpstreamCredential;
  private refreshing: Promise<RefreshResult> | undefined;
  private failure: string | undefined;
  private readonly controller = new AbortController();

  constructor(
    private readonly job: ProxyJobOptions,
    private readonly logger: Logger,
  ) {
    this.credential = job.credential;
  }

  /** The credential to send now. A refresh replaces the object, so callers can tell which one they used. */
  current(): UpstreamCredential {
    return this.credential;
  }

  /** An OAuth login the job can refresh. */
  get refreshable(): boolean {
    return this.credential.kind === 'oauth' && this.job.refresh !== undefined;
  }

  /** Set once a refresh failed: the login is gone, and every later call is refused with this message. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** The login's `expiresAt` is past or within the margin. */
  expiresSoon(now = Date.now()): boolean {
    const expiresAt = this.credential.kind === 'oauth' ? this.credential.oauth.expiresAt : undefined;
    return expiresAt !== undefined && expiresAt - now < EXPIRY_MARGIN_MS;
  }

  /**
   * Replaces the login `used` (the one a call just sent, or found expiring): resolves at once if
   * another call has already replaced it, joins the refresh under way, or starts one. Single
   * flight matters beyond saving a round trip: the refresh token rotates, so a second refresh
   * with the old one would fail and end the job.
   */
  refreshAfter(used: UpstreamCredential): Promise<RefreshResult> {
    if (this.failure !== undefined) return Promise.resolve({ ok: false, message: this.failure });
    if (used !== this.credential) return Promise.resolve({ ok: true });
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Stops a refresh under way; for the proxy's shutdown only. Revoking a grant does not: the
   * refresh token may already be rotated upstream, and the new login must still reach
   * `onCredentialsUpdated` or the user loses it.
   */
  abort(): void {
    this.controller.abort();
  }

  private async refresh(): Promise<RefreshResult> {
    const { refresh } = this.job;
    if (this.credential.kind !== 'oauth' || refresh === undefined) return { ok: true };
    let next: ClaudeOauth;
    try {
      next = await refresh(this.credential.oauth, this.controller.signal);
      if (typeof next?.accessToken !== 'string' || next.accessToken === '') throw new Error('the refresh returned no access token');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // The job's handler words its own error around the reason; the agent gets a whole sentence.
      this.failure = `The Claude login could not be refreshed: ${reason}`;
      this.logger.warn({ sessionId: this.job.sessionId }, 'model proxy: OAuth refresh failed');
      this.notify(() => this.job.onAuthFailure?.(reason));
      return { ok: false, message: this.failure };
    }
    this.credential = { api: 'anthropic', kind: 'oauth', oauth: next };
    this.logger.debug({ sessionId: this.job.sessionId }, 'model proxy: OAuth login refreshed');
    this.notify(() => this.job.onCredentialsUpdated?.(next));
    return { ok: true };
  }

  /** A caller's callback failing must not fail the call that triggered it. */
  private notify(callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.logger.error({ err, sessionId: this.job.sessionId }, 'model proxy: credential callback threw');
    }
  }
}
