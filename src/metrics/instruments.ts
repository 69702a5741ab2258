import type * as PromClient from 'prom-client';

/**
 * The worker's Prometheus metrics, defined once: metrics.ts records into them,
 * API.md lists them, and test/unit/metrics.test.ts checks that both agree.
 * This file only imports prom-client's types: the module itself is handed in
 * by WorkerMetrics once it has loaded it (see metrics.ts for why it waits).
 */

/** Prefix of the worker's own metrics. Node's default metrics keep their standard names, so stock dashboards work. */
export const METRIC_PREFIX = 'ai_coding_worker_';

/** Agent jobs take from under a second (a clone that fails) to an hour (a long agent run). */
export const JOB_DURATION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 2700, 3600];

/** Time in the gateway's queue: nothing when a worker is free, up to as long as the jobs ahead run. */
export const QUEUE_WAIT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** Every metric of the worker's own, by name without the prefix, with its Prometheus type. */
export const WORKER_METRICS = {
  queue_depth: 'gauge',
  queue_wait_seconds: 'histogram',
  jobs_running: 'gauge',
  job_duration_seconds: 'histogram',
  errors_total: 'counter',
  events_relayed_total: 'counter',
  model_calls_total: 'counter',
  model_tokens_total: 'counter',
} as const;

/** A label set; the public methods of WorkerMetrics say which labels each metric takes. */
export type Labels = Record<string, string>;

export interface Instruments {
  registry: PromClient.Registry;
  counters: {
    errors: PromClient.Counter<string>;
    eventsRelayed: PromClient.Counter<string>;
    modelCalls: PromClient.Counter<string>;
    modelTokens: PromClient.Counter<string>;
  };
  histograms: { jobDuration: PromClient.Histogram<string>; queueWait: PromClient.Histogram<string> };
}

export type CounterKey = keyof Instruments['counters'];
export type HistogramKey = keyof Instruments['histograms'];

/** Where the gauges read their values at scrape time. */
export interface GaugeSources {
  /** Jobs waiting in the queue; undefined where there is no queue (standalone, worker). */
  queueDepth(): (() => Promise<number>) | undefined;
  jobsRunning(): number;
}

/** Creates a registry of its own (never prom-client's global one) with Node's default metrics and the worker's. */
export function createInstruments(prom: typeof PromClient, sources: GaugeSources): Instruments {
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const name = (short: keyof typeof WORKER_METRICS) => `${METRIC_PREFIX}${short}`;

  new prom.Gauge({
    name: name('queue_depth'),
    help: 'Jobs waiting in the queue (gateway role); 0 where there is no queue.',
    registers: [registry],
    async collect() {
      const source = sources.queueDepth();
      if (!source) return this.set(0);
      // A queue that cannot be read must not fail the whole scrape; NaN shows a gap, not a stale number.
      this.set(await source().catch(() => Number.NaN));
    },
  });
  new prom.Gauge({
    name: name('jobs_running'),
    help: 'Jobs running in this process.',
    registers: [registry],
    collect() {
      this.set(sources.jobsRunning());
    },
  });

  return {
    registry,
    counters: {
      errors: new prom.Counter({
        name: name('errors_total'),
        help: 'Errors by code: source="http" for an error answer before a stream, "stream" for a job\'s final error event.',
        labelNames: ['code', 'source'],
        registers: [registry],
      }),
      eventsRelayed: new prom.Counter({
        name: name('events_relayed_total'),
        help: 'Events written to SSE clients (live and replayed).',
        registers: [registry],
      }),
      modelCalls: new prom.Counter({
        name: name('model_calls_total'),
        help: 'Successful model API calls through the model proxy, by api (anthropic, openai).',
        labelNames: ['api'],
        registers: [registry],
      }),
      modelTokens: new prom.Counter({
        name: name('model_tokens_total'),
        help: 'Tokens the model APIs reported through the model proxy, by api and kind (input, output, cache_read, cache_creation).',
        labelNames: ['api', 'kind'],
        registers: [registry],
      }),
    },
    histograms: {
      jobDuration: new prom.Histogram({
        name: name('job_duration_seconds'),
        help: 'Job run time, from admission to its final event, by provider and outcome.',
        labelNames: ['provider', 'outcome'],
        buckets: JOB_DURATION_BUCKETS,
        registers: [registry],
      }),
      queueWait: new prom.Histogram({
        name: name('queue_wait_seconds'),
        help: 'Time a job waited in the queue before a worker took it (worker role).',
        buckets: QUEUE_WAIT_BUCKETS,
        registers: [registry],
      }),
    },
  };
}
