import type { ExecuteRequest } from './job-request.js';
import type { JobControl, JobsSnapshot, LiveJob, StartedJob } from './job-control.js';
import type { Job } from './job.js';
import type { JobManager } from './job-manager.js';

/** The standalone role's JobControl: every job runs in this process. */
export class LocalJobs implements JobControl {
  constructor(private readonly jobs: JobManager) {}

  async start(request: ExecuteRequest): Promise<StartedJob> {
    const job = await this.jobs.start(request);
    return { ...liveJobOf(job), firstEventId: job.firstEventId };
  }

  async find(sessionId: string): Promise<LiveJob | undefined> {
    const job = this.jobs.get(sessionId);
    return job ? liveJobOf(job) : undefined;
  }

  async abort(sessionId: string): Promise<boolean> {
    return this.jobs.abort(sessionId, 'aborted by request');
  }

  async snapshot(): Promise<JobsSnapshot> {
    return {
      busy: this.jobs.isBusy,
      runningJobs: this.jobs.runningCount,
      maxConcurrentJobs: this.jobs.capacity,
      accepting: this.jobs.isAccepting,
    };
  }
}

function liveJobOf(job: Job): LiveJob {
  return { sessionId: job.sessionId, provider: job.request.provider.name, state: 'running', feed: job.log };
}
