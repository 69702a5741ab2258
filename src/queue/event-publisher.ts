import type { Logger } from 'pino';
import { isTerminal, type LiveOnlyEvent, type NumberedEvent } from '../events/registry.js';
import type { ClusterSessions } from './cluster-sessions.js';
import { sealPayload } from './job-payload.js';

/**
 * Puts a running job's events on its session's Redis stream, one after the
 * other in id order (the connection waits out a Redis restart and keeps the
 * order). The final event waits for `finish()`: it goes out together with the
 * end of the job's claim, once the session is saved, so a client that reads it
 * can resume at once. When the job no longer owns the session — a gateway ended it as lost
 * while this worker could not reach Redis — `onLost` runs once: the job must stop.
 */
export class EventPublisher {
  private tail: Promise<void> = Promise.resolve();
  private lost = false;
  private final: NumberedEvent | undefined;

  constructor(
    private readonly sessions: ClusterSessions,
    private readonly sessionId: string,
    private readonly jobId: string,
    private readonly logger: Logger,
    private readonly onLost: () => void,
    /** JOB_ENCRYPTION_KEY: live-only events carry credentials and cross Redis sealed. */
    private readonly encryptionKey: Buffer,
  ) {}

  publish(event: NumberedEvent): void {
    if (isTerminal(event.event)) {
      this.final = event;
      return;
    }
    this.tail = this.tail.then(async () => {
      if (this.lost) return;
      try {
        if (await this.sessions.appendNumbered(this.sessionId, this.jobId, event)) return;
        this.lost = true;
        this.logger.warn({ sessionId: this.sessionId, jobId: this.jobId }, 'the job lost its claim on the session; stopping it');
        this.onLost();
      } catch (error) {
        // The session's store log still gets the event when the job is saved.
        this.logger.warn({ sessionId: this.sessionId, eventId: event.id, err: error }, 'could not publish an event');
      }
    });
  }

  /** Sends a live-only event to the clients following now, after the events before it. */
  publishLiveOnly(event: LiveOnlyEvent): void {
    const sealed = sealPayload(JSON.stringify(event), this.encryptionKey, this.sessionId);
    this.tail = this.tail.then(async () => {
      if (this.lost) return;
      // Lost is lost: the client reads it from GET /sessions/:id/credentials instead.
      await this.sessions.publishLiveOnly(this.sessionId, sealed).catch((error: unknown) => {
        this.logger.warn({ sessionId: this.sessionId, type: event.type, err: error }, 'could not publish a live-only event');
      });
    });
  }

  /**
   * After the job ended and its session is saved: publishes what is left, then
   * the final event with the claim's end. False when there was no final event to
   * end with (the caller lets the claim go).
   */
  async finish(): Promise<boolean> {
    await this.tail;
    if (!this.final || this.lost) return false;
    return this.sessions.appendFinal(this.sessionId, this.jobId, this.final, 'running');
  }
}
