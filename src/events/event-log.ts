import type { Redactor } from '../secrets/redactor.js';
import { isLiveOnly, isTerminal, type EventInput, type LiveOnlyEvent, type NumberedEvent, type WorkerEvent } from './registry.js';

export type EventListener = (event: NumberedEvent) => void;
/** Receives live-only events (`credentials_updated`); only subscribers that pass one get them. */
export type LiveOnlyListener = (event: LiveOnlyEvent) => void;

/**
 * A session's ordered event log while a job runs: it numbers and stamps
 * events, redacts secrets before anyone sees them, keeps the history and fans
 * out live events. Subscribers get history first, then live events, so a
 * client can re-attach with Last-Event-ID and miss nothing.
 */
export class SessionEventLog {
  private readonly history: NumberedEvent[];
  private readonly listeners = new Set<{ listener: EventListener; onEnd: () => void; onLiveOnly?: LiveOnlyListener }>();
  private lastId: number;
  private ended = false;

  constructor(
    private readonly redactor: Redactor,
    previous: readonly NumberedEvent[] = [],
    lastId = previous.at(-1)?.id ?? 0,
    private readonly onAppend?: (event: NumberedEvent) => void,
  ) {
    this.history = [...previous];
    this.lastId = lastId;
  }

  get lastEventId(): number {
    return this.lastId;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  append(input: EventInput): NumberedEvent {
    if (isLiveOnly(input as WorkerEvent)) throw new Error(`${input.type} is live only: send it with sendLiveOnly`);
    if (this.ended) throw new Error(`event log already ended; cannot append ${input.type}`);
    const event = this.redactor.redactValue({ ...input, timestamp: new Date().toISOString() } as WorkerEvent);
    const numbered: NumberedEvent = { id: ++this.lastId, event };
    this.history.push(numbered);
    this.onAppend?.(numbered);
    for (const { listener } of [...this.listeners]) listener(numbered);
    return numbered;
  }

  /**
   * Sends a live-only event to the subscribers connected now: no id, not kept, not
   * redacted (it is the secret the client must receive).
   */
  sendLiveOnly(input: Omit<LiveOnlyEvent, 'timestamp'>): void {
    if (this.ended) return;
    const event = { ...input, timestamp: new Date().toISOString() } as LiveOnlyEvent;
    for (const { onLiveOnly } of [...this.listeners]) onLiveOnly?.(event);
  }

  /** Every event so far, in order. */
  events(): readonly NumberedEvent[] {
    return this.history;
  }

  /** The terminal event of the current job, if it has been appended. */
  terminalEvent(): WorkerEvent | undefined {
    const last = this.history.at(-1)?.event;
    return last && isTerminal(last) ? last : undefined;
  }

  /**
   * Replays events with id > afterId, then delivers live ones until `end()`;
   * live-only events go to `onLiveOnly` when given (a client's stream, not a store or sink).
   * Returns an unsubscribe function that is safe to call twice.
   */
  subscribe(afterId: number, listener: EventListener, onEnd: () => void, onLiveOnly?: LiveOnlyListener): () => void {
    for (const event of this.history) if (event.id > afterId) listener(event);
    if (this.ended) {
      onEnd();
      return () => {};
    }
    const entry = { listener, onEnd, onLiveOnly };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Marks the log complete: live subscribers are told to finish. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const { onEnd } of [...this.listeners]) onEnd();
    this.listeners.clear();
  }
}
