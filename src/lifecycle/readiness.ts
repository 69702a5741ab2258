/**
 * Whether this process takes new jobs (issue #11): not while its session store
 * cannot be reached at start-up, and not while a session it ran still waits to
 * be saved before an EXIT_AFTER_JOB exit. `GET /ready` answers 503 with the
 * reason meanwhile, so an orchestrator routes no work here, and `POST /execute`
 * gets 503 NOT_READY. Liveness (`GET /health`) is not affected: restarting a
 * worker that waits to save a session would lose the session.
 */
export class Readiness {
  private readonly reasons = new Map<symbol, string>();

  get ready(): boolean {
    return this.reasons.size === 0;
  }

  /** The first reason the process is not ready, if it is not. */
  get reason(): string | undefined {
    return this.reasons.values().next().value;
  }

  /** Holds readiness back for `reason` until the returned function is called. */
  block(reason: string): () => void {
    const key = Symbol(reason);
    this.reasons.set(key, reason);
    return () => {
      this.reasons.delete(key);
    };
  }
}
