import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sample } from '../fixtures/prometheus.js';
import { postExecute, request } from '../fixtures/sse.js';
import { claudeRequest, startRig, type Rig } from '../jobs/helpers.js';

/**
 * GET /metrics of the real worker (standalone role) while real jobs run: the
 * real agent against the fake model, counted as a client sees them.
 */

const TOKEN = 'metrics-test-token-2d9a';
const PREFIX = 'ai_coding_worker_';

describe('GET /metrics', () => {
  let rig: Rig;

  before(async () => {
    rig = await startRig(
      ({ request: recorded }) => {
        const text = JSON.stringify(recorded.body.messages ?? []);
        if (text.includes('FAIL-THE-MODEL')) return { type: 'error', status: 400, message: 'fake model refuses this request' };
        return { type: 'text', text: 'Done.' };
      },
      { WORKER_API_TOKEN: TOKEN },
    );
  });

  after(async () => {
    await rig?.close();
  });

  const scrape = async (): Promise<string> => {
    const res = await request(`${rig.worker.url}/metrics`, { token: TOKEN });
    assert.equal(res.status, 200, res.text);
    return res.text;
  };

  /** The worker counts a job once it has let go of it, a moment after its final event is out. */
  const scrapeUntil = async (ready: (body: string) => boolean): Promise<string> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = await scrape();
      if (ready(body) || Date.now() > deadline) return body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('answers in Prometheus text format, and only with the bearer token', async () => {
    const refused = await request(`${rig.worker.url}/metrics`);
    assert.equal(refused.status, 401);
    const res = await request(`${rig.worker.url}/metrics`, { token: TOKEN });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.ok(res.text.includes(`# TYPE ${PREFIX}job_duration_seconds histogram`));
    assert.equal(sample(res.text, `${PREFIX}errors_total`, { code: 'UNAUTHORIZED', source: 'http' }), 1);
    assert.equal(sample(res.text, `${PREFIX}jobs_running`), 0);
    assert.equal(sample(res.text, `${PREFIX}queue_depth`), 0, 'standalone: no job waits');
    assert.ok(sample(res.text, 'process_cpu_user_seconds_total') !== undefined);
  });

  it('counts jobs by outcome, their stream errors, and the events sent to the client', async () => {
    const completed = await (await postExecute(rig.worker.url, claudeRequest('hello'), {}, { token: TOKEN })).events();
    assert.equal(completed.at(-1)?.data.type, 'completed');
    const failed = await (await postExecute(rig.worker.url, claudeRequest('FAIL-THE-MODEL'), {}, { token: TOKEN })).events();
    const final = failed.at(-1)!.data as { type: string; code?: string };
    assert.equal(final.type, 'error');

    const count = (body: string, outcome: string) =>
      sample(body, `${PREFIX}job_duration_seconds_count`, { provider: 'claude-code', outcome });
    const body = await scrapeUntil((text) => count(text, 'completed') === 1 && count(text, 'failed') === 1);
    assert.equal(count(body, 'completed'), 1, body);
    assert.equal(count(body, 'failed'), 1, body);
    const seconds = sample(body, `${PREFIX}job_duration_seconds_sum`, { provider: 'claude-code', outcome: 'completed' })!;
    assert.ok(seconds > 0 && seconds < 60, `a job of ${seconds} s`);
    assert.equal(sample(body, `${PREFIX}errors_total`, { code: final.code!, source: 'stream' }), 1);
    assert.equal(sample(body, `${PREFIX}events_relayed_total`), completed.length + failed.length);
    assert.equal(sample(body, `${PREFIX}jobs_running`), 0);
  });
});
