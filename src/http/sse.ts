import type { ServerResponse } from 'node:http';
import type { LiveOnlyEvent, NumberedEvent } from '../events/registry.js';

/** A subscriber whose socket has this much unsent data is too slow and is dropped. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface SseStream {
  send(event: NumberedEvent): void;
  /**
   * A live-only event: no `id:` line (the client's Last-Event-ID stays on the event before
   * it) and its type as the SSE event name, so an EventSource's `onmessage` never sees it.
   */
  sendLiveOnly(event: LiveOnlyEvent): void;
  /** Ends the response; safe to call more than once. */
  close(): void;
  /** Runs once when the stream ends for any reason (client gone, closed, dropped). */
  onClose(callback: () => void): void;
  readonly closed: boolean;
}

/**
 * Starts an SSE response on a raw Node response: `id:`/`data:` frames, a
 * keep-alive comment while idle, no proxy buffering, and a cleanup that runs
 * exactly once however the stream ends.
 */
export function openSseStream(
  response: ServerResponse,
  options: {
    keepAliveMs: number;
    headers: Record<string, string>;
    /** Called for each event written to the client (GET /metrics counts them). */
    onEventSent?: () => void;
  },
): SseStream {
  response.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    ...options.headers,
  });
  response.flushHeaders();
  response.socket?.setNoDelay(true);

  let closed = false;
  const callbacks: Array<() => void> = [];
  const keepAlive = setInterval(() => write(': keep-alive\n\n'), options.keepAliveMs);
  keepAlive.unref();

  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    for (const callback of callbacks.splice(0)) callback();
  };
  response.on('close', finish);

  /** Writes unless the stream has ended; false if it had. */
  function write(chunk: string): boolean {
    if (closed || response.writableEnded) return false;
    response.write(chunk);
    if (response.writableLength > MAX_BUFFERED_BYTES) {
      // Never let a slow reader hold the job's memory: drop it; it can re-attach with Last-Event-ID.
      response.destroy();
      finish();
    }
    return true;
  }

  return {
    send(event) {
      if (write(`id: ${event.id}\ndata: ${JSON.stringify(event.event)}\n\n`)) options.onEventSent?.();
    },
    sendLiveOnly(event) {
      if (write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)) options.onEventSent?.();
    },
    close() {
      if (!response.writableEnded) response.end();
      finish();
    },
    onClose(callback) {
      if (closed) callback();
      else callbacks.push(callback);
    },
    get closed() {
      return closed;
    },
  };
}

/** Parses a Last-Event-ID header; 0 (replay everything) when absent or malformed. */
export function parseLastEventId(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !/^\d+$/.test(value.trim())) return 0;
  return Number(value.trim());
}
