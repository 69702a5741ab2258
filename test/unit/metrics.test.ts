import { Readiness } from '../../src/lifecycle/readiness.js';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { register as globalRegistry } from 'prom-client';
import { loadConfig } from '../../src/config/env.js';
import { MemoryHandback } from '../../src/credentials/memory-handback.js';
import type { NumberedEvent, WorkerEvent } from '../../src/events/registry.js';
import { buildServer } from '../../src/http/server.js';
import { WorkerUser } from '../../src/isolation/worker-user.js';
import { JobManager } from '../../src/jobs/job-manager.js';
import { LocalJobs } from '../../src/jobs/local-jobs.js';
import { createLogger } from '../../src/logging/logger.js';
import { METRIC_PREFIX, WORKER_METRICS } from '../../src/metrics/instruments.js';
import { WorkerMetrics } from '../../src/metrics/metrics.js';
import { outcomeOf } from '../../src/metrics/observe-jobs.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { FsSessionStore } from '../../src/storage/fs.js';
import { sample } from '../fixtures/prometheus.js';
import { request } from '../fixtures/sse.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';

const at = (type: string, extra: Record<string, unknown> = {}) =>
  ({ type, timestamp: '2026-01-01T00:00:00.000Z', ...extra }) as WorkerEvent;

describe('WorkerMetrics', () => {
  it('renders every metric with its type, in a registry of its own, with Node default metrics', async () => {
    const metrics = new WorkerMetrics();
    const { contentType, body } = await metrics.render();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    for (const [name, type] of Object.entries(WORKER_METRICS)) {
      assert.ok(body.includes(`\n# TYPE ${METRIC_PREFIX}${name} ${type}\n`), `${name} is a ${type}`);
    }
    assert.ok(sample(body, 'process_cpu_user_seconds_total') !== undefined, "Node's default metrics, unprefixed");
    assert.equal(await globalRegistry.getSingleMetric(`${METRIC_PREFIX}jobs_running`), undefined, 'not in the global registry');
  });

  it('keeps what it counted before prom-client was loaded, and counts on afterwards', async () => {
    const metrics = new WorkerMetrics();
    metrics.errorAnswered('UNAUTHORIZED');
    metrics.errorAnswered('UNAUTHORIZED');
    metrics.streamError('PROVIDER_ERROR');
    metrics.eventsRelayed(3);
    metrics.eventsRelayed();
    metrics.jobFinished('claude-code', 'completed', 42_000);
    metrics.observeQueueWait(0.3);

    let { body } = await metrics.render();
    assert.equal(sample(body, `${METRIC_PREFIX}errors_total`, { code: 'UNAUTHORIZED', source: 'http' }), 2);
    assert.equal(sample(body, `${METRIC_PREFIX}errors_total`, { code: 'PROVIDER_ERROR', source: 'stream' }), 1);
    assert.equal(sample(body, `${METRIC_PREFIX}events_relayed_total`), 4);
    const job = { provider: 'claude-code', outcome: 'completed' };
    assert.equal(sample(body, `${METRIC_PREFIX}job_duration_seconds_count`, job), 1);
    assert.equal(sample(body, `${METRIC_PREFIX}job_duration_seconds_sum`, job), 42);
    assert.equal(sample(body, `${METRIC_PREFIX}job_duration_seconds_bucket`, { le: '30', ...job }), 0);
    assert.equal(sample(body, `${METRIC_PREFIX}job_duration_seconds_bucket`, { le: '60', ...job }), 1);
    assert.equal(sample(body, `${METRIC_PREFIX}queue_wait_seconds_bucket`, { le: '0.5' }), 1);

    metrics.errorAnswered('UNAUTHORIZED');
    metrics.eventsRelayed(10);
    metrics.jobFinished('codex', 'aborted', 500);
    ({ body } = await metrics.render());
    assert.equal(sample(body, `${METRIC_PREFIX}errors_total`, { code: 'UNAUTHORIZED', source: 'http' }), 3);
    assert.equal(sample(body, `${METRIC_PREFIX}events_relayed_total`), 14);
    assert.equal(sample(body, `${METRIC_PREFIX}job_duration_seconds_count`, { provider: 'codex', outcome: 'aborted' }), 1);
  });

  it('reads the gauges from their sources at each scrape; queue_depth is 0 without a queue', async () => {
    const metrics = new WorkerMetrics();
    let running = 0;
    metrics.setJobsRunningSource(() => running);
    let body = (await metrics.render()).body;
    assert.equal(sample(body, `${METRIC_PREFIX}jobs_running`), 0);
    assert.equal(sample(body, `${METRIC_PREFIX}queue_depth`), 0);

    running = 2;
    let depth: () => Promise<number> = async () => 7;
    metrics.setQueueDepthSource(() => depth());
    body = (await metrics.render()).body;
    assert.equal(sample(body, `${METRIC_PREFIX}jobs_running`), 2);
    assert.equal(sample(body, `${METRIC_PREFIX}queue_depth`), 7);

    depth = async () => {
      throw new Error('redis is down');
    };
    body = (await metrics.render()).body;
    assert.ok(Number.isNaN(sample(body, `${METRIC_PREFIX}queue_depth`)), 'an unreadable queue is NaN, and the scrape still works');
  });

  it("tells a job's outcome from its final event", () => {
    assert.equal(outcomeOf(at('completed', { sessionId: 's', duration_ms: 1 })), 'completed');
    assert.equal(outcomeOf(at('error', { error: 'x', code: 'ABORTED' })), 'aborted');
    assert.equal(outcomeOf(at('error', { error: 'x', code: 'WORKER_LOST' })), 'interrupted');
    assert.equal(outcomeOf(at('error', { error: 'x', code: 'PROVIDER_ERROR' })), 'failed');
    assert.equal(outcomeOf(undefined), 'failed', 'a runner that crashed before its final event');
  });

  it('is documented in API.md: every metric with its type', async () => {
    const apiDoc = await fs.readFile(new URL('../../API.md', import.meta.url), 'utf8');
    for (const [name, type] of Object.entries(WORKER_METRICS)) {
      const row = apiDoc.split('\n').find((line) => line.startsWith(`| \`${METRIC_PREFIX}${name}\``));
      assert.ok(row, `${name} has a row`);
      assert.ok(row.includes(`| ${type} |`), `${name} is documented as a ${type}`);
    }
  });
});

describe('GET /metrics on the HTTP API (buildServer)', () => {
  const TOKEN = 'metrics-unit-token-5b1f';
  let dir: TempDir;
  let app: FastifyInstance;
  let url: string;
  const metrics = new WorkerMetrics();

  before(async () => {
    dir = await makeTempDir('acw-metrics');
    const config = loadConfig({ WORKER_API_TOKEN: TOKEN, WORKSPACE_DIR: `${dir.path}/workspace`, SESSIONS_DIR: `${dir.path}/sessions` });
    const store = new FsSessionStore(`${dir.path}/sessions`);
    await store.init();
    const redactor = new Redactor();
    const logger = createLogger('silent', redactor);
    const handback = new MemoryHandback(60_000);
    const jobs = new JobManager({ config, store, redactor, logger, handback }, [new WorkerUser()]);
    app = buildServer({
      handback,
      config,
      logger,
      jobs: new LocalJobs(jobs),
      store,
      providers: new ProviderRegistry(),
      isolation: { mode: 'none', reason: 'test' },
      metrics,
      readiness: new Readiness(),
      requestShutdown: () => ({ exiting: false, message: 'test' }),
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });

    // A stored session to replay: its events are relayed to an SSE client.
    const now = new Date().toISOString();
    const events: NumberedEvent[] = [
      { id: 1, event: at('connected', { sessionId: 'stored', resuming: false, provider: 'claude-code' }) },
      { id: 2, event: at('message', { message: 'hi' }) },
      { id: 3, event: at('completed', { sessionId: 'stored', duration_ms: 5 }) },
    ];
    await store.writeEvents('stored', events);
    await store.writeMetadata({
      sessionId: 'stored',
      provider: 'claude-code',
      status: 'completed',
      createdAt: now,
      updatedAt: now,
      lastEventId: 3,
      turns: 1,
      hasArchive: false,
      storage: 'fs',
    });
  });

  after(async () => {
    await app?.close();
    await dir?.remove();
  });

  const scrape = async () => {
    const res = await request(`${url}/metrics`, { token: TOKEN });
    assert.equal(res.status, 200, res.text);
    return res;
  };

  it('answers in Prometheus text format, with the bearer token like every route but /health', async () => {
    const refused = await request(`${url}/metrics`);
    assert.equal(refused.status, 401);
    const res = await scrape();
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4; charset=utf-8$/);
    assert.ok(res.headers.get('x-container-id'));
    assert.ok(res.text.includes(`# TYPE ${METRIC_PREFIX}errors_total counter`));
    assert.equal(sample(res.text, `${METRIC_PREFIX}errors_total`, { code: 'UNAUTHORIZED', source: 'http' }), 1);
  });

  it('counts error answers by code, and events relayed to SSE clients', async () => {
    const before = (await scrape()).text;
    const count = (body: string, code: string) => sample(body, `${METRIC_PREFIX}errors_total`, { code, source: 'http' }) ?? 0;
    assert.equal((await request(`${url}/sessions/nope`, { token: TOKEN })).status, 404);
    assert.equal((await request(`${url}/no-such-route`, { token: TOKEN })).status, 404);
    assert.equal((await request(`${url}/sessions?limit=0`, { token: TOKEN })).status, 400);
    const stream = await request(`${url}/sessions/stored/stream`, { token: TOKEN });
    assert.equal((await stream.events()).length, 3);

    const after = (await scrape()).text;
    assert.equal(count(after, 'SESSION_NOT_FOUND') - count(before, 'SESSION_NOT_FOUND'), 1);
    assert.equal(count(after, 'NOT_FOUND') - count(before, 'NOT_FOUND'), 1);
    assert.equal(count(after, 'VALIDATION_ERROR') - count(before, 'VALIDATION_ERROR'), 1);
    const relayed = (body: string) => sample(body, `${METRIC_PREFIX}events_relayed_total`) ?? 0;
    assert.equal(relayed(after) - relayed(before), 3);
  });

  it('is in the OpenAPI document as text/plain', async () => {
    const res = await request(`${url}/openapi.json`, { token: TOKEN });
    const doc = res.json as { paths: Record<string, Record<string, { responses: Record<string, { content: object }> }>> };
    const operation = doc.paths['/metrics']?.get;
    assert.ok(operation, 'GET /metrics is documented');
    assert.deepEqual(Object.keys(operation.responses['200']!.content), ['text/plain; version=0.0.4']);
  });
});
