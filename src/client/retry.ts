import { WorkerApiError } from './errors.js';

/** Statuses that mean "not taken, try again later": the worker (or the gateway's queue) is busy or stopping. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);

export interface RetryPolicy {
  /** Longest total time spent waiting between attempts before giving up. */
  maxWaitMs: number;
}

/** Waits ms, or rejects with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Exponential backoff with jitter: attempt 0 waits about `baseMs`, each
 * further attempt twice as long, up to `maxMs`; the wait is drawn from the
 * upper half of that, so clients that failed together do not retry together.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return ceiling / 2 + (random() * ceiling) / 2;
}

/**
 * How long to wait after a 429/503: the server's `Retry-After` (or the body's
 * `retryAfter`) plus up to 20% jitter, never less than it asked for; backoff
 * when it named no time.
 */
export function retryAfterMs(error: WorkerApiError, attempt: number, random = Math.random): number {
  if (error.retryAfter === undefined) return backoffMs(attempt, 500, 10_000, random);
  const asked = error.retryAfter * 1000;
  return asked + random() * Math.min(asked * 0.2, 5_000);
}

export function isRetryable(error: unknown): error is WorkerApiError {
  return error instanceof WorkerApiError && RETRYABLE_STATUSES.has(error.status);
}

/**
 * Runs `attempt` until it succeeds, retrying 429/503 answers after the wait
 * they ask for, as long as the total wait stays within the policy; then the
 * last WorkerApiError is thrown. Nothing else is retried.
 */
export async function withRetry<T>(attempt: () => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + policy.maxWaitMs;
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      const wait = retryAfterMs(error, tries);
      if (Date.now() + wait > deadline) throw error;
      await sleep(wait, signal);
    }
  }
}
