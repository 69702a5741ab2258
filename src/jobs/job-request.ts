import type { ParsedCredentials, Provider, ProviderOptions, UserRequest } from '../providers/types.js';

/** The repository a job works in. */
export interface GithubRequest {
  repoUrl: string;
  branch?: string;
  directory?: string;
  /** Never logged, stored or emitted. */
  accessToken?: string;
}

/**
 * What a job is asked to do: a POST /execute request once validated, with the
 * environment's defaults applied (http/execute-request.ts parses it).
 */
export interface ExecuteRequest {
  userRequest: UserRequest;
  provider: Provider;
  credentials: ParsedCredentials;
  /** Session to create or resume, when the client named one. */
  websiteSessionId?: string;
  /** Session that must exist and be resumed. */
  resumeSessionId?: string;
  github?: GithubRequest;
  autoCommit: boolean;
  database?: { sessionId?: string; accessToken: string };
  providerOptions: ProviderOptions;
  pullRequest?: { draft?: boolean; title?: string; body?: string; base?: string };
}
