import type { HttpErrorCode, StreamErrorCode } from '../errors/codes.js';
import type { CallUsage } from '../model-proxy/types.js';
import { EarlyRecords } from './early-records.js';
import { createInstruments, type CounterKey, type HistogramKey, type Instruments, type Labels } from './instruments.js';

/** How a job ended: `completed`, or which way it did not. */
export type JobOutcome = 'completed' | 'failed' | 'aborted' | 'interrupted';

/** Where an error reached the client: an HTTP error answer before any stream, or a stream's final `error` event. */
export type ErrorSource = 'http' | 'stream';

/** After listen, how long prom-client waits to be loaded unless a scrape asks for it first. */
export const METRICS_LOAD_DELAY_MS = 3_000;

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

/**
 * The worker's metrics in a Prometheus registry of their own (GET /metrics).
 * Every role records what it sees through these methods; the gateway adds a
 * queue-depth source, the worker role observes queue waits.
 *
 * Loading prom-client takes 50–60 ms, a fifth of the worker's start-up budget
 * (docs/benchmarks.md, "Metrics and start-up"). It is loaded on the first
 * scrape, or METRICS_LOAD_DELAY_MS after listen, whichever comes first — not
 * right after listen, where it would hold up the first health checks. Until
 * then every count and observation is kept and replayed into the registry, so
 * nothing counted from the start is lost.
 */
export class WorkerMetrics {
  private instruments: Instruments | undefined;
  private loading: Promise<Instruments> | undefined;
  private readonly early = new EarlyRecords();
  private queueDepthSource: (() => Promise<number>) | undefined;
  private jobsRunningSource: () => number = () => 0;

  /** Where queue_depth comes from (gateway role). Without one the gauge reads 0: no job waits here. */
  setQueueDepthSource(source: () => Promise<number>): void {
    this.queueDepthSource = source;
  }

  /** Where jobs_running comes from; read at each scrape. */
  setJobsRunningSource(source: () => number): void {
    this.jobsRunningSource = source;
  }

  /** A job left the queue for a worker after `seconds` (worker role). */
  observeQueueWait(seconds: number): void {
    this.observe('queueWait', {}, seconds);
  }

  /** A job ended; `durationMs` from its admission to its final event. */
  jobFinished(provider: string, outcome: JobOutcome, durationMs: number): void {
    this.observe('jobDuration', { provider, outcome }, durationMs / 1000);
  }

  /** The worker answered a request with an error before any stream started. */
  errorAnswered(code: HttpErrorCode): void {
    this.count('errors', { code, source: 'http' satisfies ErrorSource }, 1);
  }

  /** A job's stream ended with an `error` event. */
  streamError(code: StreamErrorCode): void {
    this.count('errors', { code, source: 'stream' satisfies ErrorSource }, 1);
  }

  /** `count` events were written to SSE clients. */
  eventsRelayed(count = 1): void {
    this.count('eventsRelayed', {}, count);
  }

  /** A model call went through the model proxy with these token counts. */
  modelCall(call: CallUsage): void {
    const api = call.api;
    this.count('modelCalls', { api }, 1);
    const kinds = {
      input: call.inputTokens,
      output: call.outputTokens,
      cache_read: call.cacheReadInputTokens,
      cache_creation: call.cacheCreationInputTokens,
    };
    for (const [kind, tokens] of Object.entries(kinds)) if (tokens > 0) this.count('modelTokens', { api, kind }, tokens);
  }

  /** Loads prom-client and builds the registry; safe to call more than once. A failed load is retried on the next call. */
  async load(): Promise<void> {
    await this.ready();
  }

  /** Loads prom-client in the background after `delayMs`, unless a scrape needs it sooner; never keeps the process alive. */
  loadLater(delayMs = METRICS_LOAD_DELAY_MS): void {
    // A failure here shows on the next scrape, which tries again and answers 500.
    setTimeout(() => void this.load().catch(() => {}), delayMs).unref();
  }

  /** The registry in Prometheus text format, and its content type. */
  async render(): Promise<RenderedMetrics> {
    const { registry } = await this.ready();
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  private ready(): Promise<Instruments> {
    this.loading ??= import('prom-client').then(
      (prom) => {
        const instruments = createInstruments(prom, {
          queueDepth: () => this.queueDepthSource,
          jobsRunning: () => this.jobsRunningSource(),
        });
        this.early.replayInto(instruments);
        this.instruments = instruments;
        return instruments;
      },
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  private count(key: CounterKey, labels: Labels, value: number): void {
    if (this.instruments) this.instruments.counters[key].inc(labels, value);
    else this.early.count(key, labels, value);
  }

  private observe(key: HistogramKey, labels: Labels, value: number): void {
    if (this.instruments) this.instruments.histograms[key].observe(labels, value);
    else this.early.observe(key, labels, value);
  }
}
