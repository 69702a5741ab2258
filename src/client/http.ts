import { readApiError, WorkerConnectionError } from './errors.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  baseUrl: string;
  token?: string;
  fetch?: FetchLike;
}

export interface SendOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Sends one request; resolves with a 2xx response. */
export type Send = (path: string, options?: SendOptions) => Promise<Response>;

/**
 * One request to the worker, with the bearer token. A 2xx answer is returned
 * as is; any other answer is thrown as a WorkerApiError, a failure to get an
 * answer as a WorkerConnectionError, and an abort as the signal's reason.
 */
export function createTransport(options: TransportOptions): Send {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  // Called through a wrapper: browsers refuse a `fetch` called with another `this`.
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  return async (path, { method = 'GET', body, headers = {}, signal } = {}) => {
    const allHeaders: Record<string, string> = { accept: 'application/json', ...headers };
    if (options.token !== undefined) allHeaders.authorization = `Bearer ${options.token}`;
    const init: RequestInit = { method, headers: allHeaders };
    if (signal !== undefined) init.signal = signal;
    if (body !== undefined) {
      allHeaders['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetchImpl(`${baseUrl}${path}`, init);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new WorkerConnectionError(`${method} ${path}: the worker could not be reached`, { cause: error });
    }
    if (!response.ok) throw await readApiError(response);
    return response;
  };
}

/** Reads a 2xx JSON answer. */
export async function readJson<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** An AbortController that also aborts (with the same reason) when `parent` does; `dispose` unlinks it. */
export function linkedController(parent?: AbortSignal): { controller: AbortController; dispose: () => void } {
  const controller = new AbortController();
  if (!parent) return { controller, dispose: () => undefined };
  const forward = (): void => controller.abort(parent.reason);
  if (parent.aborted) forward();
  else parent.addEventListener('abort', forward, { once: true });
  return { controller, dispose: () => parent.removeEventListener('abort', forward) };
}
