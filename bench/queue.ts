/**
 * Issue #10 benchmark: the gateway + queue workers against the standalone worker,
 * all built processes (`node dist/main.js`) on this machine, one real redis-server,
 * the test suite's fake Anthropic model, in one run:
 *   1. time to `connected` and a job's wall time, standalone vs through gateway + queue;
 *   2. event relay latency worker → client (a real job's event timestamps, and
 *      synthetic appends timed to the microsecond, paired with a plain Redis subscriber);
 *   3. one gateway holding 1,000 SSE subscribers on running jobs: RSS, every event delivered;
 *   4. enqueue throughput with no worker running;
 *   5. 6 jobs on 2 slots: the queue vs clients retrying on 429 against 2 standalone workers.
 *
 *   npm run build && node --import tsx bench/queue.ts
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { messagesText, startFakeAnthropic, type FakeReply, type ScriptContext } from '../test/fixtures/fake-anthropic.js';
import { cpuTimeMs, fanOut, probeRelay } from './queue-fanout.js';
import { report, type CpuShare, type Enqueue, type Overhead, type SlotRound } from './queue-report.js';
import { startQueueRig, type QueueRig } from './queue-rig.js';
import { openSse, type SseArrival } from './sse-client.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const API_KEY = 'sk-ant-api03-BENCHMARK-KEY-000000';
const FIRST_PORT = 5800;
/** Bash turns of the job whose events are timed (each turn: the model's tool call, the tool's result). */
const LOOP_TURNS = 20;
const LOOP_JOBS = 3;
const PROBE_EVENTS = 500;
const PROBE_PACE_MS = 5;
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
/** 10 events/s per job (an agent's pace), each to 100 subscribers: 10,000 deliveries/s. */
const FAN_OUT = { subscribers: SUBSCRIBERS, sessions: 10, events: 100, paceMs: 100, eventBytes: 600 };
const ENQUEUE_JOBS = Number(process.env.BENCH_ENQUEUE_JOBS ?? 2000);
const ENQUEUE_CLIENTS = 32;
/** The model's answer in the 6-jobs-on-2-slots comparison comes after this long. */
const SLOT_JOB_DELAY_MS = 1_000;
const SLOT_ROUNDS = 5;
const RETRY_EVERY_MS = 250;

const PROMPTS = { write: 'Write bench.txt', loop: 'Run the loop', wait: 'Wait a while' };

/** One fake model for every job: the prompt says which script. */
function modelScript({ request }: ScriptContext): FakeReply {
  const text = messagesText(request);
  const messages = ((request.body.messages ?? []) as unknown[]).length;
  if (text.includes(PROMPTS.write) && messages <= 1) {
    return { type: 'tool_use', name: 'Write', input: { file_path: 'bench.txt', content: 'benchmark\n' } };
  }
  const turn = (messages - 1) / 2;
  if (text.includes(PROMPTS.loop) && turn < LOOP_TURNS) return { type: 'tool_use', name: 'Bash', input: { command: `echo turn ${turn}` } };
  if (text.includes(PROMPTS.wait)) return { type: 'text', text: 'Done.', delayMs: SLOT_JOB_DELAY_MS };
  return { type: 'text', text: 'Done.' };
}

export async function benchQueue(): Promise<string> {
  const loadBefore = os.loadavg();
  const fake = await startFakeAnthropic(modelScript);
  const rig = await startQueueRig(fake.url, FIRST_PORT);
  try {
    const overhead = await measureOverhead(rig);
    await rig.reset();
    const gateway = await rig.gateway();
    const fan = await fanOut(() => rig.redis.client(), { url: gateway.url, pid: gateway.proc.pid! }, FAN_OUT);
    await rig.reset();
    const enqueue = await measureEnqueue(rig);
    await rig.reset();
    const slots = await measureSlots(rig);
    return report(
      { overhead, fan, enqueue, slots, loadBefore, loadAfter: os.loadavg() },
      {
        runs: RUNS,
        loopTurns: LOOP_TURNS,
        loopJobs: LOOP_JOBS,
        probePaceMs: PROBE_PACE_MS,
        fanOut: FAN_OUT,
        enqueueJobs: ENQUEUE_JOBS,
        enqueueClients: ENQUEUE_CLIENTS,
        slotJobDelayMs: SLOT_JOB_DELAY_MS,
        slotRounds: SLOT_ROUNDS,
        retryEveryMs: RETRY_EVERY_MS,
      },
    );
  } finally {
    await rig.close();
    await fake.close();
  }
}

interface JobRun {
  status: number;
  connectedMs: number;
  /** `connected` → the first event from the job itself (in the queue: the worker took it and started it). */
  startGapMs: number;
  /** The job's last event before the final one → the end of the stream (standalone sends the final event before it saves the log; the queue after). */
  endGapMs: number;
  totalMs: number;
  /** The parsed events with their arrival times. */
  events: Array<{ arrival: SseArrival; type: string; timestamp: string }>;
  last: string;
}

/** POST /execute and read the stream to its end. */
async function runJob(url: string, prompt: string): Promise<JobRun> {
  const started = performance.now();
  const stream = await openSse(`${url}/execute`, {
    method: 'POST',
    body: { userRequest: prompt, codingAssistantProvider: 'claude', codingAssistantAuthentication: API_KEY },
  });
  if (stream.status !== 200) {
    return { status: stream.status, connectedMs: NaN, startGapMs: NaN, endGapMs: NaN, totalMs: NaN, events: [], last: await stream.errorBody };
  }
  await stream.ended;
  const totalMs = performance.now() - started;
  const events = stream.arrivals.map((arrival) => {
    const { type, timestamp } = JSON.parse(arrival.data) as { type: string; timestamp: string };
    return { arrival, type, timestamp };
  });
  const connectedAt = events.find((event) => event.type === 'connected')?.arrival.at ?? NaN;
  const firstAt = events.find((event) => event.type !== 'connected' && event.type !== 'queued')?.arrival.at ?? NaN;
  return {
    status: 200,
    connectedMs: connectedAt - started,
    startGapMs: firstAt - connectedAt,
    endGapMs: started + totalMs - (events.at(-2)?.arrival.at ?? NaN),
    totalMs,
    events,
    last: events.at(-1)?.type ?? '',
  };
}

async function completedJob(url: string, prompt: string): Promise<JobRun> {
  const run = await runJob(url, prompt);
  if (run.last !== 'completed') throw new Error(`job on ${url} ended with ${run.status} ${run.last}`);
  return run;
}

/** Worker-stamped event → arrival at the client, from the event's ISO `timestamp` (ms). */
function timestampLatencies(run: JobRun): { events: number[]; final: number } {
  const latency = (event: JobRun['events'][number]) => performance.timeOrigin + event.arrival.at - Date.parse(event.timestamp);
  const fromAgent = run.events.filter((event) => !['connected', 'queued', 'completed', 'error'].includes(event.type));
  return { events: fromAgent.map(latency), final: latency(run.events.at(-1)!) };
}

/** Sections 1 and 2: one standalone worker, one gateway with one 1-slot queue worker, jobs alternating. */
async function measureOverhead(rig: QueueRig): Promise<Overhead> {
  const standaloneWorker = await rig.standalone();
  const gateway = await rig.gateway();
  const queueWorker = await rig.queueWorker();
  const sides = { standalone: standaloneWorker.url, queued: gateway.url };
  const result: Overhead = {
    standalone: { connected: [], startGap: [], endGap: [], total: [], latencies: [], finals: [] },
    queued: { connected: [], startGap: [], endGap: [], total: [], latencies: [], finals: [] },
    queueWaitMs: NaN,
    probe: { events: 0, redis: [], gateway: [], added: [] },
  };
  for (const url of Object.values(sides)) await completedJob(url, PROMPTS.write);
  const waitBefore = await queueWait(queueWorker.url);
  for (let run = 0; run < RUNS; run++) {
    for (const [side, url] of Object.entries(sides) as Array<[keyof typeof sides, string]>) {
      const job = await completedJob(url, PROMPTS.write);
      result[side].connected.push(job.connectedMs);
      result[side].startGap.push(job.startGapMs);
      result[side].endGap.push(job.endGapMs);
      result[side].finals.push(timestampLatencies(job).final);
      result[side].total.push(job.totalMs);
    }
  }
  const waitAfter = await queueWait(queueWorker.url);
  result.queueWaitMs = ((waitAfter.sum - waitBefore.sum) * 1000) / (waitAfter.count - waitBefore.count);
  for (let run = 0; run < LOOP_JOBS; run++) {
    for (const [side, url] of Object.entries(sides) as Array<[keyof typeof sides, string]>) {
      const latencies = timestampLatencies(await completedJob(url, PROMPTS.loop));
      result[side].latencies.push(...latencies.events);
      result[side].finals.push(latencies.final);
    }
  }
  result.probe = await probeRelay(() => rig.redis.client(), gateway.url, PROBE_EVENTS, PROBE_PACE_MS);
  return result;
}

/** The worker's queue_wait_seconds histogram (GET /metrics): sum and count so far. */
async function queueWait(workerUrl: string): Promise<{ sum: number; count: number }> {
  const text = await fetch(`${workerUrl}/metrics`).then((res) => res.text());
  const read = (suffix: string) => Number(new RegExp(`queue_wait_seconds_${suffix}(?:\\{[^}]*\\})? ([\\d.e+-]+)`).exec(text)?.[1] ?? NaN);
  return { sum: read('sum'), count: read('count') };
}

/** Section 4: no worker runs; every POST /execute queues a job, and the client leaves once the head arrives. */
async function measureEnqueue(rig: QueueRig): Promise<Enqueue> {
  const gateway = await rig.gateway();
  const redis = rig.redis.client();
  const hammer = async (request: () => Promise<boolean>) => {
    let next = 0;
    let ok = 0;
    const cpuBefore = await cpuTimes(gateway.proc.pid!, redis);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: ENQUEUE_CLIENTS }, async () => {
        while (next++ < ENQUEUE_JOBS) if (await request()) ok += 1;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = await cpuTimes(gateway.proc.pid!, redis);
    const per = (key: keyof CpuShare) => (cpuAfter[key] - cpuBefore[key]) / ENQUEUE_JOBS;
    return { ok, seconds, cpu: { gateway: per('gateway'), redis: per('redis'), clients: per('clients') } };
  };
  // Warm-up, then the baseline: GET /health (the gateway reads the queue's counts from Redis), whole answer, a new connection each.
  for (let index = 0; index < 50; index++) await fetch(`${gateway.url}/health`).then((res) => res.text());
  const health = await hammer(async () => {
    const stream = await openSse(`${gateway.url}/health`);
    await stream.ended;
    return stream.status === 200;
  });
  const jobs = await hammer(async () => {
    const stream = await openSse(`${gateway.url}/execute`, {
      method: 'POST',
      body: { userRequest: PROMPTS.write, codingAssistantProvider: 'claude', codingAssistantAuthentication: API_KEY },
    });
    stream.close();
    return stream.status === 200;
  });
  const status = (await fetch(`${gateway.url}/status`).then((res) => res.json())) as { queue: { waiting: number } };
  redis.disconnect();
  return {
    healthPerSecond: health.ok / health.seconds,
    jobsPerSecond: jobs.ok / jobs.seconds,
    healthCpu: health.cpu,
    jobsCpu: jobs.cpu,
    accepted: jobs.ok,
    refused: ENQUEUE_JOBS - jobs.ok,
    waiting: status.queue.waiting,
  };
}

/** CPU time used so far (ms) by the gateway (/proc), redis-server (INFO cpu) and this process. */
async function cpuTimes(gatewayPid: number, redis: Redis): Promise<CpuShare> {
  const info = await redis.info('cpu');
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  const own = process.cpuUsage();
  return {
    gateway: await cpuTimeMs(gatewayPid),
    redis: (seconds('used_cpu_sys') + seconds('used_cpu_user')) * 1000,
    clients: (own.user + own.system) / 1000,
  };
}

/** Section 5: 6 jobs at once on 2 slots, through the queue and with 429 retries; rounds alternate. */
async function measureSlots(rig: QueueRig): Promise<{ queue: SlotRound[]; retry: SlotRound[] }> {
  const gateway = await rig.gateway();
  await Promise.all([rig.queueWorker(), rig.queueWorker()]);
  const standalones = await Promise.all([rig.standalone(), rig.standalone()]);
  // Warm-up: each worker's first job loads the agent SDK.
  await Promise.all([completedJob(gateway.url, PROMPTS.write), completedJob(gateway.url, PROMPTS.write)]);
  await Promise.all(standalones.map((worker) => completedJob(worker.url, PROMPTS.write)));

  const viaQueue = async (): Promise<SlotRound> => {
    const started = performance.now();
    await Promise.all(Array.from({ length: 6 }, () => completedJob(gateway.url, PROMPTS.wait)));
    return { ms: performance.now() - started, requests: 6 };
  };
  const withRetries = async (): Promise<SlotRound> => {
    let turn = 0;
    let requests = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (;;) {
          // Like Swarm's DNS round robin: each attempt goes to the next worker.
          const url = standalones[turn++ % standalones.length]!.url;
          requests += 1;
          const run = await runJob(url, PROMPTS.wait);
          if (run.status === 429) {
            await sleep(RETRY_EVERY_MS);
            continue;
          }
          if (run.last !== 'completed') throw new Error(`job ended with ${run.status} ${run.last}`);
          return;
        }
      }),
    );
    return { ms: performance.now() - started, requests };
  };
  const rounds = { queue: [] as SlotRound[], retry: [] as SlotRound[] };
  for (let round = 0; round < SLOT_ROUNDS; round++) {
    rounds.queue.push(await viaQueue());
    rounds.retry.push(await withRetries());
  }
  return rounds;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('## Queue (gateway + workers, issue #10)\n');
  console.log(await benchQueue());
}
