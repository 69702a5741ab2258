/**
 * `ai-coding-worker/client`: a typed, fetch-based client for the worker's
 * HTTP API. No Node-only imports, so it runs in browsers too.
 */
export { createClient, type CallOptions, type ClientOptions, type WorkerClient } from './client.js';
export { EventStream, InvalidEventError, type ReconnectInfo, type ReconnectPolicy, type StreamOptions } from './event-stream.js';
export { WorkerApiError, WorkerConnectionError } from './errors.js';
export type { FetchLike } from './http.js';
export type { RetryPolicy } from './retry.js';
export { SseParser, type SseFrame } from './sse.js';
export type * from './types.js';
