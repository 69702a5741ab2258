/**
 * A small Server-Sent Events parser for fetch's ReadableStream, following the
 * WHATWG "interpreting an event stream" rules: lines end with CRLF, LF or CR;
 * `data` lines are joined with "\n"; one space after the colon is dropped;
 * `id` sets the last event id (kept for later events, ignored if it holds NUL);
 * lines starting with ":" are comments; a blank line dispatches; an event with
 * no data is not dispatched; an unfinished event at the end is discarded.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

export type SseFrame =
  | { kind: 'message'; type: string; data: string; lastEventId: string }
  | { kind: 'comment'; text: string };

export class SseParser {
  private line = '';
  /** The previous chunk ended with CR: a LF starting the next one belongs to the same line end. */
  private afterCR = false;
  private data = '';
  private eventType = '';
  private lastEventId = '';
  /** The stream's `retry:` reconnection time, if it sent one. */
  retryMs: number | undefined;

  /** Feeds decoded text; returns the frames it completed. */
  feed(text: string): SseFrame[] {
    const frames: SseFrame[] = [];
    let start = 0;
    if (this.afterCR && text.length > 0) {
      if (text.charCodeAt(0) === 10) start = 1;
      this.afterCR = false;
    }
    for (let i = start; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      this.line += text.slice(start, i);
      this.processLine(this.line, frames);
      this.line = '';
      if (code === 13) {
        if (i + 1 === text.length) this.afterCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.line += text.slice(start);
    return frames;
  }

  private processLine(line: string, frames: SseFrame[]): void {
    if (line === '') {
      this.dispatch(frames);
      return;
    }
    if (line.startsWith(':')) {
      frames.push({ kind: 'comment', text: line.slice(1) });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data += `${value}\n`;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
  }

  private dispatch(frames: SseFrame[]): void {
    if (this.data === '') {
      this.eventType = '';
      return;
    }
    frames.push({
      kind: 'message',
      type: this.eventType === '' ? 'message' : this.eventType,
      data: this.data.slice(0, -1),
      lastEventId: this.lastEventId,
    });
    this.data = '';
    this.eventType = '';
  }
}

/** Nothing arrived on a stream for longer than the idle timeout. */
export class SseIdleTimeoutError extends Error {
  constructor(idleMs: number) {
    super(`no data on the event stream for ${idleMs} ms`);
    this.name = 'SseIdleTimeoutError';
  }
}

export interface ReadSseOptions {
  /** Aborting it cancels the read; the reader then throws the signal's reason. */
  signal?: AbortSignal;
  /** Gives up (SseIdleTimeoutError) when a read waits longer than this; 0 = never. */
  idleTimeoutMs?: number;
}

/**
 * Reads an event stream body frame by frame. Ends when the server ends the
 * body; throws when the connection breaks. Breaking out of the loop cancels
 * the body, which closes the connection.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, options: ReadSseOptions = {}): AsyncGenerator<SseFrame> {
  const { signal, idleTimeoutMs = 0 } = options;
  const reader = body.getReader();
  // The UTF-8 decoder also drops the stream's leading byte order mark, as the spec asks.
  const decoder = new TextDecoder('utf-8');
  const parser = new SseParser();
  let idle = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      // Only time the wait for data, not the time the consumer spends between frames.
      if (idleTimeoutMs > 0) {
        timer = setTimeout(() => {
          idle = true;
          cancel();
        }, idleTimeoutMs);
      }
      const { done, value } = await reader.read();
      clearTimeout(timer);
      if (signal?.aborted) throw signal.reason;
      if (idle) throw new SseIdleTimeoutError(idleTimeoutMs);
      if (done) return;
      yield* parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', cancel);
    cancel();
  }
}
