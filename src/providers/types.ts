import type { NormalizedItem } from '../events/normalized.js';
import type { AgentUser } from '../isolation/types.js';
import type { UpstreamCredential } from '../model-proxy/types.js';

/**
 * The contract every coding agent implements. An agent's quirks (SDK options,
 * environment, credential files, message shapes) live in its own file; the job
 * runner only sees this interface.
 */

/** One block of a multi-part user request, as accepted on the wire. */
export type UserContentBlock =
  | { type: 'text'; text: string }
  | {
      type: 'image';
      source: { type: 'base64'; media_type: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp'; data: string };
    };

export type UserRequest = string | UserContentBlock[];

/** Options a client may pass through `providerOptions`; providers ignore what they do not support. */
export interface ProviderOptions {
  model?: string;
  permissionMode?: string;
  skipPermissions?: boolean;
  maxTurns?: number;
  [key: string]: unknown;
}

export interface ProviderCapabilities {
  images: boolean;
  resume: boolean;
}

/** Credentials after validation: the provider's own shape plus the raw secret strings to redact. */
export interface ParsedCredentials {
  /** Every string that must never be logged, stored or passed in argv. */
  secrets: string[];
  /** Provider-specific value, opaque to the rest of the worker. */
  value: unknown;
}

export interface ProviderRunInput {
  prompt: UserRequest;
  /** The folder the agent works in (the session workspace, or its `directory` inside a repo). */
  cwd: string;
  /** The job's private, temporary home (mode 0700); removed by the job runner when the job ends. */
  homeDir: string;
  /**
   * The session's persisted agent state folder. Restored from the store before the run; whatever
   * the provider leaves here is saved with the session. Never put credentials here.
   */
  stateDir: string;
  credentials: ParsedCredentials;
  /** The provider's own conversation id from the previous turn, when resuming. */
  resumeAgentSessionId?: string;
  options: ProviderOptions;
  /** The worker's own defaults for options a request leaves out (e.g. CODEX_SANDBOX_MODE's `sandboxMode`). */
  workerDefaults?: ProviderOptions;
  /** Worker environment values the agent must receive (e.g. ANTHROPIC_BASE_URL, its TMPDIR). */
  env: Record<string, string>;
  /**
   * The identity the agent runs under. A provider writes what the agent needs into
   * `homeDir`, then calls `agentUser.handOver(homeDir)` before it starts the agent
   * through `agentUser.command` or `agentUser.launcher`, and calls `agentUser.killAll()`
   * before it reads the agent's files back.
   */
  agentUser: AgentUser;
  signal: AbortSignal;
  /** Called with every message the agent's SDK yields, unchanged. */
  onMessage: (message: unknown) => void;
}

export interface ProviderUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
  costUsd?: number;
  modelCalls?: number;
}

export interface ProviderRunResult {
  /** The agent's conversation id, stored so the next turn can resume it. */
  agentSessionId?: string;
  /** Set when the agent reported a failure (model error, max turns, ...). */
  error?: string;
  usage?: ProviderUsage;
}

export interface Provider {
  /** Canonical name stored in session metadata, e.g. `claude-code`. */
  readonly name: string;
  /** Every accepted spelling (case-insensitive), including `name`. */
  readonly aliases: readonly string[];
  readonly capabilities: ProviderCapabilities;
  /**
   * Validates the request's credentials before any stream starts.
   * Throws a `WorkerError` with code VALIDATION_ERROR when the form is wrong.
   */
  parseCredentials(raw: unknown): ParsedCredentials;
  /**
   * How the agent reaches its model through the worker's model proxy (src/model-proxy): the
   * credential the proxy sends upstream, and what the agent gets instead. Undefined when these
   * credentials cannot be proxied: the agent then holds them, as before the proxy existed.
   */
  proxyPlan?(credentials: ParsedCredentials): ProxyPlan | undefined;
  /** Maps one of the provider's own messages to the provider-neutral view; never throws. */
  normalize?(message: unknown): NormalizedItem[];
  /** Runs one turn of the agent to completion (or abort). */
  run(input: ProviderRunInput): Promise<ProviderRunResult>;
  /**
   * Optional: a short one-shot completion with the request's own credentials, used for session
   * titles, branch names and commit messages. Callers bound it in time and fall back when it fails.
   */
  generateText?(input: GenerateTextInput): Promise<string>;
}

export interface ProxyPlan {
  upstream: UpstreamCredential;
  /** The agent's credentials: the job's proxy token, in the form the provider's agent reads. */
  agentCredentials(token: string): ParsedCredentials;
  /** The variable of `ProviderRunInput.env` that points the agent at the proxy (the grant's `baseUrl`). */
  baseUrlVariable: 'ANTHROPIC_BASE_URL' | 'OPENAI_BASE_URL';
}

export interface GenerateTextInput {
  prompt: string;
  credentials: ParsedCredentials;
  /** Worker environment values for the agent (e.g. ANTHROPIC_BASE_URL). */
  env: Record<string, string>;
  signal: AbortSignal;
}
