import type { WorkerEvent } from '../events/registry.js';
import type { JobManager } from '../jobs/job-manager.js';
import type { JobOutcome, WorkerMetrics } from './metrics.js';

/**
 * Feeds a process's jobs into its metrics: jobs_running from the manager, and
 * for every finished job its duration and outcome, and its stream error if it
 * ended with one. For the roles that run jobs (standalone, worker).
 */
export function observeJobs(metrics: WorkerMetrics, jobs: JobManager): void {
  metrics.setJobsRunningSource(() => jobs.runningCount);
  jobs.on('finished', (job) => {
    const terminal = job.log.terminalEvent();
    const endedAt = terminal ? Date.parse(terminal.timestamp) : Date.now();
    metrics.jobFinished(job.request.provider.name, outcomeOf(terminal), endedAt - job.startedAt);
    if (terminal?.type === 'error') metrics.streamError(terminal.code);
  });
}

/** A job without a final event is one whose runner crashed: it failed. */
export function outcomeOf(terminal: WorkerEvent | undefined): JobOutcome {
  if (terminal?.type === 'completed') return 'completed';
  if (terminal?.type !== 'error') return 'failed';
  if (terminal.code === 'ABORTED') return 'aborted';
  if (terminal.code === 'WORKER_LOST') return 'interrupted';
  return 'failed';
}
