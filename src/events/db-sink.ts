import type { Logger } from 'pino';
import type { SessionEventLog } from './event-log.js';
import type { NumberedEvent } from './registry.js';

/** Attempts per event before it is given up (logged, the job goes on). */
const ATTEMPTS = 3;
const RETRY_BASE_MS = 250;
/** How long the end of a job waits for the last events to reach the DB API. */
const DRAIN_TIMEOUT_MS = 10_000;
/** Events held while the DB API is slow; beyond this the oldest are dropped (and logged). */
const MAX_QUEUE = 10_000;

export interface DbTarget {
  baseUrl: string;
  /** The DB's own id for the session (`database.sessionId`, default the worker's session id). */
  sessionId: string;
  accessToken: string;
}

/**
 * Streams a job's events, in order, to the DB API of a `database` request:
 * `POST {DB_BASE_URL}/sessions/{sessionId}/events` with `{sessionId, id, event}`
 * and the request's bearer token. Best effort: a slow or failing DB API never
 * blocks or fails the job.
 */
export class DbEventSink {
  private readonly queue: NumberedEvent[] = [];
  private sending: Promise<void> | undefined;
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly target: DbTarget,
    private readonly logger: Logger,
  ) {}

  /** Follows the log from `afterId` on. */
  attach(log: SessionEventLog, afterId: number): void {
    this.unsubscribe = log.subscribe(afterId, (event) => this.enqueue(event), () => {});
  }

  /** Stops following and waits (bounded) until what is queued was sent. */
  async close(): Promise<void> {
    this.unsubscribe();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
    });
    await Promise.race([this.sending ?? Promise.resolve(), timeout]);
    clearTimeout(timer);
    if (this.queue.length > 0) {
      this.logger.warn({ dbSessionId: this.target.sessionId, unsent: this.queue.length }, 'DB API did not take every event in time');
    }
  }

  private enqueue(event: NumberedEvent): void {
    if (this.queue.length >= MAX_QUEUE) {
      const dropped = this.queue.shift();
      this.logger.warn({ dbSessionId: this.target.sessionId, eventId: dropped?.id }, 'DB API too slow; event dropped');
    }
    this.queue.push(event);
    this.sending ??= this.drain().finally(() => (this.sending = undefined));
  }

  private async drain(): Promise<void> {
    for (let event = this.queue.shift(); event; event = this.queue.shift()) await this.send(event);
  }

  private async send(event: NumberedEvent): Promise<void> {
    const url = `${this.target.baseUrl.replace(/\/+$/, '')}/sessions/${encodeURIComponent(this.target.sessionId)}/events`;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.target.accessToken}` },
          body: JSON.stringify({ sessionId: this.target.sessionId, id: event.id, event: event.event }),
          signal: AbortSignal.timeout(DRAIN_TIMEOUT_MS),
        });
        if (response.ok) return;
        // A 4xx other than 429 will not get better by retrying.
        if (response.status < 500 && response.status !== 429) attempt = ATTEMPTS;
        this.logger.warn({ dbSessionId: this.target.sessionId, eventId: event.id, status: response.status }, 'DB API refused an event');
      } catch (error) {
        this.logger.warn({ dbSessionId: this.target.sessionId, eventId: event.id, err: error }, 'DB API unreachable');
      }
      if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS * 2 ** (attempt - 1)));
    }
  }
}
