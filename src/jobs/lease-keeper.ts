import type { Job } from './job.js';
import type { JobDeps } from './run-job.js';

/**
 * Renews the job's session lock while it runs (three times per time-to-live)
 * and releases it at the end. A lease that was lost — it expired and another
 * worker took the session over — aborts the job: two workers must never run
 * the same session. Returns the function that stops renewing and releases.
 */
export function keepLease(job: Job, deps: JobDeps): () => Promise<void> {
  const lease = job.lease;
  if (!lease) return async () => {};
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = lease.renew().then(
      (held) => {
        if (held) return;
        deps.logger.error({ sessionId: job.sessionId }, 'session lease lost; aborting the job');
        job.abort('the session lock was lost to another worker');
      },
      (error: unknown) => deps.logger.warn({ sessionId: job.sessionId, err: error }, 'session lease renewal failed'),
    );
  }, Math.max(250, Math.floor(deps.config.leaseTtlMs / 3)));
  timer.unref();
  return async () => {
    clearInterval(timer);
    await renewing;
    await lease.release().catch((error: unknown) => deps.logger.warn({ sessionId: job.sessionId, err: error }, 'lease release failed'));
  };
}
