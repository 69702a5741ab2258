/**
 * The client's wire types. This is the only client file that imports from the
 * worker's own sources, and only types (`import type`), so the client's
 * JavaScript pulls in nothing from the server: re-point these two imports if
 * the event registry or the error codes move.
 */
import type { HttpErrorCode } from '../errors/codes.js';
import type { WorkerEvent as RegistryEvent } from '../events/registry.js';

/** Every event a stream can carry: the worker's event registry. New types may be added; ignore unknown ones. */
export type WorkerEvent = RegistryEvent;
export type WorkerEventType = WorkerEvent['type'];
export type WorkerEventOf<T extends WorkerEventType> = Extract<WorkerEvent, { type: T }>;

/** One event as the stream delivers it: its sequence id within the session and the event itself. */
export interface StreamEvent {
  /**
   * Counts from 1 within a session and keeps counting across its resumes. A live-only
   * event has no id of its own: it carries the id of the event before it.
   */
  id: number;
  event: WorkerEvent;
  /**
   * A live-only event (`credentials_updated`): sent to the clients connected at that moment,
   * never stored or replayed. Keep what it carries; a client that missed it reads it once
   * from `takeCredentials`.
   */
  liveOnly?: true;
}

/** The `code` of an error answered before a stream starts (`HTTP_<status>` when the body was not the contract's). */
export type WorkerErrorCode = HttpErrorCode | 'QUEUE_FULL' | 'QUEUE_UNAVAILABLE' | (string & {});

/** The contract's error body: `{error, code, message, field?}` (429s add `retryAfter` seconds). */
export interface ErrorBody {
  error: string;
  code: WorkerErrorCode;
  message: string;
  field?: string;
  retryAfter?: number;
}

export type ImageMediaType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

export type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: ImageMediaType; data: string } };

/** Case-insensitive; `FROM_ENV` means the worker's `CODING_ASSISTANT_PROVIDER`. */
export type ProviderName = 'ClaudeAgentSDK' | 'claude-code' | 'claude' | 'CodexSDK' | 'codex' | 'FROM_ENV' | (string & {});

export interface ProviderOptions {
  model?: string;
  permissionMode?: 'default' | 'acceptEdits' | 'bypassPermissions' | 'plan';
  skipPermissions?: boolean;
  maxTurns?: number;
  maxRetries?: number;
  apiTimeoutMs?: number;
  sandboxMode?: 'read-only' | 'workspace-write' | 'danger-full-access';
  networkAccess?: boolean;
  reasoningEffort?: 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';
  [option: string]: unknown;
}

/** The body of `POST /execute` (API.md, "POST /execute"). */
export interface ExecuteRequest {
  userRequest: string | ContentBlock[];
  /** Required unless the worker has `CODING_ASSISTANT_PROVIDER`. */
  codingAssistantProvider?: ProviderName;
  /** Claude OAuth credentials (object or JSON string), an API key, a Codex `auth.json` object, or `FROM_ENV`. */
  codingAssistantAuthentication?: string | Record<string, unknown>;
  /** The client's own id for the session: resumed if it exists, created with that id if not. */
  websiteSessionId?: string;
  /** Resume this session; an unknown id is `404 SESSION_NOT_FOUND`. */
  resumeSessionId?: string;
  github?: { repoUrl: string; branch?: string; directory?: string; accessToken?: string };
  /** Default `true` when `github` is given. */
  autoCommit?: boolean;
  database?: { sessionId?: string; accessToken: string };
  providerOptions?: ProviderOptions;
  pullRequest?: boolean | { draft?: boolean; title?: string; body?: string; base?: string };
}

export type SessionStatus = 'running' | 'completed' | 'failed' | 'aborted' | 'interrupted';

export interface SessionSummary {
  sessionId: string;
  storage: 'fs' | 's3';
  provider: string;
  status: SessionStatus;
  createdAt: string;
  updatedAt: string;
  title?: string;
  branch?: string;
}

export interface SessionList {
  /** Sessions on this page. */
  count: number;
  /** All sessions; only when paging (`limit` or `offset` given). */
  total?: number;
  /** Newest first. */
  sessions: SessionSummary[];
  /** The `offset` of the next page, when there is one. */
  nextOffset?: number;
}

/**
 * `GET /sessions/:id`. A brand-new session whose job has not yet stored it has
 * only `sessionId`, `provider`, `status` and `running`.
 */
export interface SessionDetails extends Partial<Omit<SessionSummary, 'sessionId' | 'provider' | 'status'>> {
  sessionId: string;
  provider: string;
  status: SessionStatus;
  /** True while a job of the session runs on this worker. */
  running: boolean;
  turns?: number;
  lastEventId?: number;
  agentSessionId?: string;
  hasArchive?: boolean;
  github?: { repoUrl: string; directory?: string; baseBranch?: string; repoPath?: string };
  lastError?: { code: string; message: string };
}

/** `GET /sessions/:id/credentials`: the Claude login a job refreshed (the old refresh token no longer works). */
export interface SessionCredentials {
  sessionId: string;
  accessToken: string;
  refreshToken?: string;
  /** Epoch milliseconds. */
  expiresAt?: number;
}

export interface Health {
  status: 'ok';
  workerStatus: 'idle' | 'busy';
  containerId: string;
  timestamp: string;
  runningJobs?: number;
  maxConcurrentJobs?: number;
  accepting?: boolean;
  storage?: 'fs' | 's3';
  isolation?: { mode: 'uid' | 'none'; uids?: number[]; reason?: string };
  [field: string]: unknown;
}
