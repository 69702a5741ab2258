/**
 * Runs `attempt` until it succeeds, waiting between tries from `firstDelayMs`,
 * doubling up to `maxDelayMs`; `onRetry` hears every failure. For start-up and
 * exit work that must not give up (the store coming up, a session's last save).
 */
export async function retryUntilDone<T>(
  attempt: () => Promise<T>,
  options: { firstDelayMs?: number; maxDelayMs?: number; onRetry?: (error: unknown, delayMs: number) => void } = {},
): Promise<T> {
  const { firstDelayMs = 500, maxDelayMs = 15_000, onRetry } = options;
  for (let delayMs = firstDelayMs; ; delayMs = Math.min(delayMs * 2, maxDelayMs)) {
    try {
      return await attempt();
    } catch (error) {
      onRetry?.(error, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
