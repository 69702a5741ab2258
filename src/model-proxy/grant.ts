/**
 * One job's access to the model proxy: its token, its credential and the usage of its calls.
 */
import type { Logger } from 'pino';
import { JobCredential } from './job-credential.js';
import type { CallUsage, ModelApi, ModelUsage, ProxyGrant, ProxyJobOptions } from './types.js';

export class Grant implements ProxyGrant {
  readonly api: ModelApi;
  readonly sessionId: string;
  readonly credential: JobCredential;
  private readonly totals: ModelUsage = { calls: 0, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 };
  private revoked = false;

  constructor(
    readonly token: string,
    readonly baseUrl: string,
    job: ProxyJobOptions,
    private readonly onRevoke: () => void,
    logger: Logger,
  ) {
    this.api = job.credential.api;
    this.sessionId = job.sessionId;
    this.credential = new JobCredential(job, logger);
  }

  usage(): ModelUsage {
    return { ...this.totals };
  }

  revoke(): void {
    if (this.revoked) return;
    this.revoked = true;
    this.onRevoke();
  }

  /** Adds one finished call; calls still in flight when the grant is revoked count too. */
  record(call: CallUsage): void {
    this.totals.calls += 1;
    this.totals.inputTokens += call.inputTokens;
    this.totals.outputTokens += call.outputTokens;
    this.totals.cacheReadInputTokens += call.cacheReadInputTokens;
    this.totals.cacheCreationInputTokens += call.cacheCreationInputTokens;
  }
}
