/**
 * Issue #9 benchmark: "the typed client's reconnect adds no more than one round trip".
 * The built worker runs jobs against the fake model; the typed client (`createClient`)
 * follows each job through a TCP proxy that cuts its connection mid-job. Measured in the
 * same run, on the same worker, through the same proxy:
 *   - baseline: one fresh `GET /sessions/:id/stream` with `Last-Event-ID`, on a new
 *     connection, from the request to its first event frame — one round trip;
 *   - reconnect: from the cut to the first event after it yielded by `client.execute()`.
 * Every job is also checked: the client saw ids 1…n with no gap and no duplicate, exactly
 * the stored log, through one POST and a GET that carried the last id it had yielded.
 *
 *   npm run build && node --import tsx bench/reconnect.ts
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient, type StreamEvent, type WorkerClient } from '../src/client/index.js';
import { startFakeAnthropic, type FakeAnthropic } from '../test/fixtures/fake-anthropic.js';
import { getStream } from '../test/fixtures/sse.js';
import { startTcpProxy, type TcpProxy } from '../test/fixtures/tcp-proxy.js';
import { fmt, median, startBuiltWorker, table, tempDir, type BenchWorker } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const API_KEY = 'sk-ant-api03-BENCHMARK-KEY-000000';
const PORT = 5740;
/** The model's first turn (a Write) comes this long after it is asked: the client's connection is held by then. */
const FIRST_TURN_DELAY_MS = 300;
/** The final answer waits this long: both measurements fall while the job still runs. */
const FINAL_TURN_DELAY_MS = 1_500;
const WAIT_TIMEOUT_MS = 30_000;

interface Sample {
  /** Fresh GET with Last-Event-ID → its first event frame. */
  roundTripMs: number;
  /** Cut → the first event after the cut yielded by `execute()`. */
  reconnectMs: number;
  /** Cut → `onReconnect` (the client has seen the loss and starts re-attaching). */
  detectMs: number;
  /** `onReconnect` → the re-attaching GET's head at the proxy. */
  requestMs: number;
  /** That GET at the proxy → the event yielded. */
  answerMs: number;
  attempts: number;
}

interface Rig {
  worker: BenchWorker;
  fake: FakeAnthropic;
  proxy: TcpProxy;
  client: WorkerClient;
}

export async function benchReconnect(): Promise<string> {
  // Turn 1: a Write, after a pause; turn 2 (after the tool's result): the answer, after a longer one.
  const fake = await startFakeAnthropic(({ request }) => {
    const messages = (request.body.messages ?? []) as Array<{ content?: unknown }>;
    const last = messages[messages.length - 1];
    const afterTool = Array.isArray(last?.content) && last.content.some((block: { type?: string }) => block?.type === 'tool_result');
    return afterTool
      ? { type: 'text', text: 'Done.', delayMs: FINAL_TURN_DELAY_MS }
      : { type: 'tool_use', name: 'Write', input: { file_path: 'bench.txt', content: 'benchmark\n' }, delayMs: FIRST_TURN_DELAY_MS };
  });
  const root = await tempDir('reconnect');
  const loadBefore = os.loadavg()[0]!;
  try {
    // Isolation is off: it does not touch the stream, and the bench then claims no uid a test run may be using.
    const worker = await startBuiltWorker(
      {
        ANTHROPIC_BASE_URL: fake.url,
        AGENT_ISOLATION: 'off',
        WORKSPACE_DIR: path.join(root, 'workspace'),
        SESSIONS_DIR: path.join(root, 'sessions'),
      },
      PORT,
    );
    const proxy = await startTcpProxy(PORT);
    const rig: Rig = { worker, fake, proxy, client: createClient({ baseUrl: proxy.url }) };
    const samples: Sample[] = [];
    let events = 0;
    try {
      await within(measureOnce(rig, true));
      for (let i = 0; i < RUNS; i++) {
        const { sample, count } = await within(measureOnce(rig, i % 2 === 0));
        samples.push(sample);
        events += count;
      }
    } finally {
      await proxy.close();
      await worker.stop();
    }
    const loadAfter = os.loadavg()[0]!;

    const pick = (key: keyof Sample) => samples.map((sample) => sample[key]);
    const row = (measurement: string, values: number[]) => ({
      measurement,
      median: `${fmt(median(values))} ms`,
      p90: `${fmt(p90(values))} ms`,
      'min–max': `${fmt(Math.min(...values))}–${fmt(Math.max(...values))} ms`,
    });
    const attempts = new Map<number, number>();
    for (const count of pick('attempts')) attempts.set(count, (attempts.get(count) ?? 0) + 1);
    const roundTrip = pick('roundTripMs');
    const reconnect = pick('reconnectMs');
    const reattach = samples.map((sample) => sample.requestMs + sample.answerMs);
    const extra = samples.map((sample) => sample.reconnectMs - sample.roundTripMs);
    return [
      `Runs: ${RUNS} jobs after a warm-up, one cut each (medians, p90, min–max); the baseline GET comes before the cut in ` +
        `even runs and after the client recovered in odd ones, always while the job runs. Every job ended \`completed\`; ` +
        `across the cuts the client yielded ids 1…n with no gap and no duplicate, exactly the ${events} stored events, one POST per job. ` +
        `Load average (1 min) ${fmt(loadBefore, 2)} before and ${fmt(loadAfter, 2)} after, on ${os.cpus().length} CPUs.`,
      '',
      table([
        row('fresh `GET /sessions/:id/stream` with `Last-Event-ID` → first event, new connection through the proxy (one round trip, baseline)', roundTrip),
        row('cut → first event after the cut, yielded by `client.execute()`', reconnect),
        row('— of which: cut → the client starts re-attaching (`onReconnect`: fetch has reported the loss)', pick('detectMs')),
        row('— of which: re-attaching → the event yielded (the client\'s request)', reattach),
        row('—— of which: re-attaching → its GET reaches the proxy', pick('requestMs')),
        row('—— of which: GET at the proxy → the event yielded', pick('answerMs')),
        row('reconnect − round trip, run by run', extra),
      ]),
      '',
      table([
        { ratio: 'reconnect / round trip, medians (issue #9: the reconnect adds ≤ 1 round trip)', value: fmt(median(reconnect) / median(roundTrip), 2) },
        { ratio: 'reconnect / round trip, p90s', value: fmt(p90(reconnect) / p90(roundTrip), 2) },
        { ratio: 're-attaching → event / round trip, medians', value: fmt(median(reattach) / median(roundTrip), 2) },
        {
          ratio: 'attempts per reconnect',
          value: [...attempts].sort(([a], [b]) => a - b).map(([count, runs]) => `${count} (${runs} of ${RUNS} runs)`).join(', '),
        },
      ]),
    ].join('\n');
  } finally {
    await fake.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

/**
 * One job with one cut. Why the cut falls where it does: cut → next event includes the wait
 * for the worker's next event, which has nothing to do with reconnecting. So the proxy first
 * holds the worker's bytes back (`hold`) while the agent waits for the model; once the worker
 * has emitted an event the client has not had, the connection is cut. That event is already in
 * the session's log, as it is for the baseline GET: both times are then "ask for the events
 * after id n, get the first one" on a new connection, and what the reconnect adds on top is
 * seeing the loss and deciding to re-attach.
 */
async function measureOnce({ worker, fake, proxy, client }: Rig, baselineFirst: boolean): Promise<{ sample: Sample; count: number }> {
  const mainBefore = fake.mainRequests().length;
  const requestsBefore = proxy.requests.length;
  const reconnects: Array<{ at: number; lastEventId: number | undefined }> = [];
  const run = client.execute(
    { userRequest: 'Write bench.txt', codingAssistantProvider: 'claude', codingAssistantAuthentication: API_KEY },
    { onReconnect: (info) => reconnects.push({ at: performance.now(), lastEventId: info.lastEventId }) },
  );
  const received: Array<StreamEvent & { at: number }> = [];
  let failure: unknown;
  const reading = (async () => {
    for await (const item of run) received.push({ ...item, at: performance.now() });
  })().catch((error: unknown) => {
    failure = error;
  });
  const lastSeen = (): number => received.at(-1)?.id ?? 0;
  const waitUntil = async (done: () => boolean, what: string): Promise<void> => {
    const deadline = performance.now() + WAIT_TIMEOUT_MS;
    while (!done()) {
      if (failure !== undefined) throw new Error(`the client failed while waiting for ${what}`, { cause: failure });
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };

  // The agent waits for the model's first turn: hold the client's connection, then wait until the
  // worker has an event the client has not had (bytes already in flight may still reach it: look again).
  await fake.waitForMainRequest(mainBefore + 1, WAIT_TIMEOUT_MS);
  await waitUntil(() => received.length > 0, 'the first event');
  const sessionId = run.sessionId!;
  proxy.hold();
  for (;;) {
    const last = lastSeen();
    const direct = await (await getStream(worker.url, sessionId, last)).events({ until: () => true, timeoutMs: WAIT_TIMEOUT_MS });
    if (direct[0]!.id! > lastSeen()) break;
  }
  const lastBeforeCut = lastSeen();
  const countBeforeCut = received.length;

  const baseline = async (): Promise<number> => {
    const connections = proxy.connectionCount;
    const started = performance.now();
    const events = await (await getStream(proxy.url, sessionId, lastBeforeCut)).events({ until: () => true, timeoutMs: WAIT_TIMEOUT_MS });
    const ms = performance.now() - started;
    if (events[0]?.id !== lastBeforeCut + 1) throw new Error(`the baseline GET began with id ${events[0]?.id}, not ${lastBeforeCut + 1}`);
    if (proxy.connectionCount !== connections + 1) throw new Error('the baseline GET did not open a new connection');
    return ms;
  };

  let roundTripMs = baselineFirst ? await baseline() : 0;
  const connectionsAtCut = proxy.connectionCount;
  const cutAt = performance.now();
  if (proxy.cut() < 1) throw new Error('the client had no connection to cut');
  await waitUntil(() => received.length > countBeforeCut, 'the first event after the cut');
  const next = received[countBeforeCut]!;
  if (!baselineFirst) roundTripMs = await baseline();
  const details = (await (await fetch(`${worker.url}/sessions/${sessionId}`)).json()) as { running?: boolean };
  if (details.running !== true) throw new Error('the job ended before both measurements were taken: raise FINAL_TURN_DELAY_MS');

  await reading;
  if (failure !== undefined) throw new Error(`session ${sessionId}: the client failed`, { cause: failure });
  const ids = received.map((item) => item.id);
  const broken = ids.findIndex((id, index) => id !== index + 1);
  if (broken >= 0) throw new Error(`session ${sessionId}: ids ${ids.join(',')} have a gap or a duplicate at position ${broken + 1}`);
  if (received.at(-1)!.event.type !== 'completed') throw new Error(`session ${sessionId}: the job ended with ${JSON.stringify(received.at(-1)!.event)}`);
  const stored = await (await getStream(worker.url, sessionId)).events({ timeoutMs: WAIT_TIMEOUT_MS });
  if (JSON.stringify(stored.map((event) => [event.id, event.data])) !== JSON.stringify(received.map((item) => [item.id, item.event]))) {
    throw new Error(`session ${sessionId}: the client's events differ from the stored log`);
  }

  const requests = proxy.requests.slice(requestsBefore);
  const posts = requests.filter((request) => request.method === 'POST' && request.path === '/execute');
  if (posts.length !== 1) throw new Error(`session ${sessionId}: ${posts.length} POSTs went through the proxy`);
  // The client's GET: on a connection opened after the cut (the baseline's has no `accept: text/event-stream`).
  const reattach = requests.find(
    (request) =>
      request.method === 'GET' &&
      request.path === `/sessions/${sessionId}/stream` &&
      request.connection > connectionsAtCut &&
      request.headers.accept === 'text/event-stream',
  );
  if (reattach?.headers['last-event-id'] !== String(lastBeforeCut) || reconnects[0]?.lastEventId !== lastBeforeCut) {
    throw new Error(`session ${sessionId}: the client did not re-attach after id ${lastBeforeCut}`);
  }
  if (next.id !== lastBeforeCut + 1) throw new Error(`session ${sessionId}: the first event after the cut is ${next.id}`);

  // A finished stream leaves its connection idle in fetch's pool, where the next job's `hold` would
  // catch it and the baseline GET could be sent on it: drop it, and give the pool time to notice.
  proxy.cut();
  await new Promise((resolve) => setTimeout(resolve, 100));

  const detectedAt = reconnects[0]!.at;
  return {
    sample: {
      roundTripMs,
      reconnectMs: next.at - cutAt,
      detectMs: detectedAt - cutAt,
      requestMs: reattach.at - detectedAt,
      answerMs: next.at - reattach.at,
      attempts: reconnects.length,
    },
    count: received.length,
  };
}

/** A run that hangs (a request sent on a held connection, say) fails the benchmark instead. */
async function within<T>(promise: Promise<T>, ms = 2 * WAIT_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a run took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The nearest-rank 90th percentile. */
function p90(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length * 0.9) - 1]!;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('## Client reconnect (issue #9)\n');
  console.log(await benchReconnect());
}
