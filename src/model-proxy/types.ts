import type { ClaudeOauth } from '../providers/claude-credentials.js';

/**
 * The worker's model proxy (issue #12): the agent talks to its model through the
 * worker, on loopback, with a random per-job token; the worker adds the user's real
 * credential on the way out. These are the types the proxy, the providers and the
 * job runner share.
 */

/** Which model API a job's agent speaks: Anthropic's Messages API or OpenAI's Responses API. */
export type ModelApi = 'anthropic' | 'openai';

/** The user's real credential, as the proxy sends it upstream. Never given to the agent. */
export type UpstreamCredential =
  | { api: 'anthropic'; kind: 'apiKey'; apiKey: string }
  | { api: 'anthropic'; kind: 'oauth'; oauth: ClaudeOauth }
  | { api: 'openai'; kind: 'apiKey'; apiKey: string };

/** Token counts summed over a job's model calls, as the upstream reported them. */
export interface ModelUsage {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
}

/** One model call's counts, as read from the upstream's response. */
export interface CallUsage {
  api: ModelApi;
  model?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
}

export interface ProxyJobOptions {
  sessionId: string;
  credential: UpstreamCredential;
  /**
   * Exchanges an expired Claude OAuth login for a new one (the refresh token rotates).
   * Absent: no refresh (API keys; OAuth without a refresh token).
   */
  refresh?: (current: ClaudeOauth, signal: AbortSignal) => Promise<ClaudeOauth>;
  /** Called once per successful refresh, with the new login (for `credentials_updated`). */
  onCredentialsUpdated?: (oauth: ClaudeOauth) => void;
  /** The credential is no longer usable (refresh failed): the job must end with AUTH_ERROR. */
  onAuthFailure?: (message: string) => void;
}

/** A job's access to the proxy. Revoked when the job ends; worthless outside it. */
export interface ProxyGrant {
  /** The random per-job token the agent authenticates with. */
  readonly token: string;
  /**
   * The base URL to give the agent: `http://127.0.0.1:<port>/anthropic` for the Messages API
   * (the agent appends `/v1/messages`), `http://127.0.0.1:<port>/openai/v1` for the Responses API
   * (the agent appends `/responses`).
   */
  readonly baseUrl: string;
  /** Totals so far. */
  usage(): ModelUsage;
  /** From now on the token is refused; idempotent. */
  revoke(): void;
}
