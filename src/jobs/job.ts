import { randomUUID } from 'node:crypto';
import type { StreamErrorCode } from '../errors/codes.js';
import type { SessionEventLog } from '../events/event-log.js';
import type { AgentUser } from '../isolation/types.js';
import type { Lease, SessionMetadata } from '../storage/types.js';
import type { ExecuteRequest } from './job-request.js';

export type JobPhase = 'prepare' | 'checkout' | 'agent' | 'commit' | 'persist' | 'done';

/** One run of an agent for one session: its request, event log and abort handle. */
export class Job {
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  readonly abortController = new AbortController();
  phase: JobPhase = 'prepare';
  /** Id of this job's `connected` event: where its own stream starts. */
  firstEventId = 0;
  /** The agent's conversation id, once known. */
  agentSessionId: string | undefined;
  /** Why the job was stopped from outside its phases (e.g. AUTH_ERROR when its login could not be refreshed). */
  failure: { code: StreamErrorCode; message: string } | undefined;

  constructor(
    readonly sessionId: string,
    readonly request: ExecuteRequest,
    readonly log: SessionEventLog,
    /** The identity every process of this job runs under (its slot's). */
    readonly agentUser: AgentUser,
    /** The stored metadata when resuming; undefined for a new session. */
    readonly previous: SessionMetadata | undefined,
    /** The session lock this job holds in the store. */
    readonly lease?: Lease,
  ) {}

  get resuming(): boolean {
    return this.previous !== undefined;
  }

  get aborted(): boolean {
    return this.abortController.signal.aborted;
  }

  abort(reason: string): void {
    if (!this.aborted) this.abortController.abort(new Error(reason));
  }

  /** Stops the job as `abort` does, but it ends with `code` instead of ABORTED. The first failure wins. */
  fail(code: StreamErrorCode, message: string): void {
    if (this.aborted) return;
    this.failure = { code, message };
    this.abort(message);
  }
}
