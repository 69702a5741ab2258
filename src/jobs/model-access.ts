import { handbackFromOauth, type CredentialHandback } from '../credentials/handback.js';
import { DEFAULT_CLAUDE_OAUTH_TOKEN_URL, refreshClaudeOauth } from '../model-proxy/claude-oauth-refresh.js';
import type { ModelProxy } from '../model-proxy/model-proxy.js';
import type { ModelUsage } from '../model-proxy/types.js';
import type { ClaudeOauth } from '../providers/claude-credentials.js';
import type { ParsedCredentials, ProviderUsage } from '../providers/types.js';
import type { Job } from './job.js';
import type { JobDeps } from './run-job.js';

/**
 * How a job's agent — and the worker's own calls for titles and commit messages —
 * reach the model (issue #12). Through the model proxy, the agent holds only the
 * job's proxy token and the proxy's address; the user's credential stays in the
 * worker, where an expired Claude login is refreshed and handed back to the client.
 * A provider whose credentials cannot be proxied (Codex with a ChatGPT login) gets
 * them directly, as before.
 */
export interface ModelAccess {
  /** What the agent and `generateText` authenticate with. */
  readonly credentials: ParsedCredentials;
  /** The agent's base environment: the model endpoint to use. */
  readonly env: Record<string, string>;
  /** The `completed` event's usage: the proxy's exact counts, the agent's cost. */
  usage(agentUsage: ProviderUsage | undefined): ProviderUsage | undefined;
  /** Revokes the job's token and forgets its secrets; idempotent. */
  close(): Promise<void>;
}

export type ModelAccessDeps = Pick<JobDeps, 'config' | 'redactor' | 'logger'> & {
  modelProxy?: ModelProxy;
  handback: CredentialHandback;
};

export function openModelAccess(job: Job, deps: ModelAccessDeps): ModelAccess {
  const { request } = job;
  const plan = request.provider.proxyPlan?.(request.credentials);
  if (!plan || !deps.modelProxy) {
    return {
      credentials: request.credentials,
      env: { ...deps.config.agentEnv },
      usage: (agentUsage) => agentUsage,
      close: async () => {},
    };
  }

  const releases: Array<() => void> = [];
  let refreshed: ClaudeOauth | undefined;
  const tokenUrl = deps.config.claudeOauthTokenUrl;
  const upstream = plan.upstream;
  const grant = deps.modelProxy.open({
    sessionId: job.sessionId,
    credential: upstream,
    // A login without a refresh token gets one too: it fails with a clear AUTH_ERROR instead of the agent's 401.
    refresh:
      upstream.kind === 'oauth'
        ? (current, signal) => refreshClaudeOauth({ tokenUrl: tokenUrl ?? DEFAULT_CLAUDE_OAUTH_TOKEN_URL, oauth: current, signal })
        : undefined,
    onCredentialsUpdated: (oauth) => {
      refreshed = oauth;
      // From now on the new tokens are secrets like the old ones: redacted from logs and stored events.
      releases.push(deps.redactor.add([oauth.accessToken, oauth.refreshToken]));
      const credentials = handbackFromOauth(oauth);
      job.log.sendLiveOnly({ type: 'credentials_updated', ...credentials });
      void deps.handback.put(job.sessionId, credentials).catch((error: unknown) => {
        deps.logger.warn({ sessionId: job.sessionId, err: error }, 'could not keep the refreshed credentials for GET /sessions/:id/credentials');
      });
      deps.logger.info({ sessionId: job.sessionId, expiresAt: oauth.expiresAt }, 'refreshed the job\'s Claude login');
    },
    onAuthFailure: (message) => job.fail('AUTH_ERROR', `The Claude login could not be refreshed: ${message}`),
  });
  releases.push(deps.redactor.add([grant.token]));

  const env = withoutModelEndpoints(deps.config.agentEnv);
  env[plan.baseUrlVariable] = grant.baseUrl;
  let closed = false;
  return {
    credentials: plan.agentCredentials(grant.token),
    env,
    usage: (agentUsage) => usageOf(grant.usage(), agentUsage),
    async close() {
      if (closed) return;
      closed = true;
      grant.revoke();
      // The handback's time runs from the job's end, so a client that was away gets its full window.
      if (refreshed) await deps.handback.put(job.sessionId, handbackFromOauth(refreshed)).catch(() => {});
      for (const release of releases.splice(0)) release();
    },
  };
}

/** The agent talks to the proxy only: it is not told where the real model APIs are. */
function withoutModelEndpoints(agentEnv: Readonly<Record<string, string>>): Record<string, string> {
  const { ANTHROPIC_BASE_URL: _anthropic, OPENAI_BASE_URL: _openai, ...rest } = agentEnv;
  return rest;
}

function usageOf(proxy: ModelUsage, agent: ProviderUsage | undefined): ProviderUsage | undefined {
  if (proxy.calls === 0) return agent;
  return {
    inputTokens: proxy.inputTokens,
    outputTokens: proxy.outputTokens,
    cacheReadInputTokens: proxy.cacheReadInputTokens,
    cacheCreationInputTokens: proxy.cacheCreationInputTokens,
    modelCalls: proxy.calls,
    // The APIs report no prices; the agent's own estimate is the only cost there is.
    ...(agent?.costUsd !== undefined ? { costUsd: agent.costUsd } : {}),
  };
}
