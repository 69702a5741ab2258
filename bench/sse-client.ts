import http from 'node:http';

/**
 * A bare SSE client over `node:http` for the queue benchmark: one socket per
 * stream (no pool, so a thousand streams are a thousand connections), and the
 * arrival time of every frame taken with `performance.now()` the moment its
 * bytes are read. fetch's body reader adds its own buffering and promise hops,
 * which would count as relay latency.
 */

export interface SseArrival {
  id: number;
  /** `performance.now()` when the chunk holding the frame's end was read. */
  at: number;
  /** The frame's `data:` payload; empty when the stream was opened with `keepData: false`. */
  data: string;
}

export interface SseStreamHandle {
  status: number;
  /** `performance.now()` when the response head arrived. */
  headersAt: number;
  /** The body of a non-200 answer. */
  errorBody: Promise<string>;
  arrivals: SseArrival[];
  /** Resolves once the server ends the response or the client closes it. */
  ended: Promise<void>;
  /** Drops the connection (the server sees the client leave). */
  close(): void;
}

export interface OpenSseOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  headers?: Record<string, string>;
  /** Called for each frame as it arrives. */
  onEvent?: (arrival: SseArrival) => void;
  /** Keep each frame's data (default true); a thousand streams of ids only need far less memory. */
  keepData?: boolean;
}

/** Opens an SSE request; resolves when the response head arrives. */
export function openSse(url: string, options: OpenSseOptions = {}): Promise<SseStreamHandle> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const keepData = options.keepData ?? true;
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: options.method ?? 'GET',
      agent: false,
      headers: {
        accept: 'text/event-stream',
        ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        ...options.headers,
      },
    });
    request.once('error', reject);
    request.once('response', (response) => {
      const headersAt = performance.now();
      const arrivals: SseArrival[] = [];
      let endStream!: () => void;
      const ended = new Promise<void>((done) => (endStream = done));
      response.once('end', endStream);
      response.once('close', endStream);
      request.removeListener('error', reject);
      request.on('error', endStream);
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        const errorBody = new Promise<string>((done) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.once('end', () => done(text));
          response.once('close', () => done(text));
        });
        resolve({ status, headersAt, errorBody, arrivals, ended, close: () => request.destroy() });
        return;
      }
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const arrival = parseFrame(frame, at, keepData);
          if (!arrival) continue;
          arrivals.push(arrival);
          options.onEvent?.(arrival);
        }
      });
      resolve({ status, headersAt, errorBody: Promise.resolve(''), arrivals, ended, close: () => request.destroy() });
    });
    request.end(body);
  });
}

/** One `id:`/`data:` frame; undefined for comments (keep-alives). The worker writes `id:` first, then one `data:` line. */
function parseFrame(frame: string, at: number, keepData: boolean): SseArrival | undefined {
  if (!frame.startsWith('id: ')) return undefined;
  const newline = frame.indexOf('\n');
  const id = Number(frame.slice(4, newline));
  const data = keepData ? frame.slice(frame.indexOf('data: ', newline) + 6) : '';
  return { id, at, data };
}
