/** The Markdown of bench/queue.ts: what it measured, against the baselines of the same run. */
import os from 'node:os';
import { percentile, type FanOutResult, type RelayProbe } from './queue-fanout.js';
import { fmt, median, table } from './lib.js';

export interface Side {
  connected: number[];
  startGap: number[];
  endGap: number[];
  total: number[];
  latencies: number[];
  finals: number[];
}

export interface Overhead {
  standalone: Side;
  queued: Side;
  /** Mean enqueue → taken by the worker over the measured jobs, from the worker's queue_wait_seconds. */
  queueWaitMs: number;
  probe: RelayProbe;
}

export interface Enqueue {
  healthPerSecond: number;
  jobsPerSecond: number;
  /** CPU time per request (ms): the gateway, redis-server, this process (the clients). */
  healthCpu: CpuShare;
  jobsCpu: CpuShare;
  accepted: number;
  refused: number;
  waiting: number;
}

export interface CpuShare {
  gateway: number;
  redis: number;
  clients: number;
}

export interface SlotRound {
  ms: number;
  requests: number;
}

export interface QueueResults {
  overhead: Overhead;
  fan: FanOutResult;
  enqueue: Enqueue;
  slots: { queue: SlotRound[]; retry: SlotRound[] };
  loadBefore: number[];
  loadAfter: number[];
}

export interface QueueSettings {
  runs: number;
  loopTurns: number;
  loopJobs: number;
  probePaceMs: number;
  fanOut: { events: number; eventBytes: number; paceMs: number };
  enqueueJobs: number;
  enqueueClients: number;
  slotJobDelayMs: number;
  slotRounds: number;
  retryEveryMs: number;
}

/** Paired differences (queue − base, run by run): median (mean ± 95 % CI). */
function paired(base: number[], queue: number[]): string {
  const diffs = queue.map((value, index) => value - base[index]!);
  const mean = diffs.reduce((sum, value) => sum + value, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, diffs.length - 1));
  return `${ms(median(diffs))} (${fmt(mean)} ± ${fmt((1.96 * sd) / Math.sqrt(diffs.length))})`;
}

const cpuLine = (cpu: CpuShare) => `${ms(cpu.gateway, 2)} / ${ms(cpu.redis, 2)} / ${ms(cpu.clients, 2)}`;
const ms = (value: number, digits = 1) => `${fmt(value, digits)} ms`;
const spread = (values: number[]) => `p50 ${ms(percentile(values, 0.5), 2)}, p99 ${ms(percentile(values, 0.99), 2)}, max ${ms(Math.max(...values), 2)}`;

/** The section's Markdown: what was measured, against the baselines of the same run. */
export function report(results: QueueResults, settings: QueueSettings): string {
  const { overhead, fan, enqueue, slots, loadBefore, loadAfter } = results;
  const { standalone, queued, probe } = overhead;
  const line = (metric: string, base: number[], queue: number[], target: string) => ({
    metric,
    'standalone (baseline)': ms(median(base)),
    'gateway + queue': ms(median(queue)),
    'difference of medians': ms(median(queue) - median(base)),
    'paired differences: median (mean ± 95 % CI)': paired(base, queue),
    ratio: fmt(median(queue) / median(base), 3),
    target,
  });
  const connectedAdded = median(queued.connected.map((value, index) => value - standalone.connected[index]!));
  const finalAdded = median(queued.finals) - median(standalone.finals);
  const queueMs = median(slots.queue.map((round) => round.ms));
  const retryMs = median(slots.retry.map((round) => round.ms));
  return [
    `Machine: ${os.cpus().length} CPUs, load average ${loadBefore.map((value) => fmt(value, 2)).join(' ')} before, ${loadAfter
      .map((value) => fmt(value, 2))
      .join(' ')} after. Redis: one redis-server, append-only file with fsync on every write.`,
    '',
    `**1. Job overhead** — ${settings.runs} jobs per side (medians), alternating: one \`Write\` tool call, then an answer.`,
    '',
    table([
      line('time to `connected`', standalone.connected, queued.connected, '—'),
      line('`connected` → the job\'s first event (queue: a worker took it and started it)', standalone.startGap, queued.startGap, '—'),
      line('the job\'s last event before the final one → the end of the stream', standalone.endGap, queued.endGap, '—'),
      line('job wall time', standalone.total, queued.total, 'adds < 30 ms'),
    ]),
    '',
    `The queue's own steps, each measured on its own: \`connected\` later by ${ms(connectedAdded)} (paired median); enqueued → taken by the idle worker ${ms(
      overhead.queueWaitMs,
    )} (the worker's \`queue_wait_seconds\`, mean, whole ms); the final event later by ${ms(finalAdded)} (median timestamp → client, ${
      standalone.finals.length
    } jobs per side). **Sum: ${ms(connectedAdded + overhead.queueWaitMs + finalAdded)}** (target < 30 ms).`,
    '',
    `**2. Event relay latency, worker → client.** A real job (${settings.loopTurns} Bash turns, ${settings.loopJobs} jobs per side): each event's \`timestamp\` (set on the worker when the event enters the job's log; whole milliseconds, so ±1 ms) against its arrival at the client. Synthetic: ${probe.events} events of ~400 B appended every ${settings.probePaceMs} ms with the worker's own Lua append (XADD + PUBLISH), timed with \`performance.now()\` in this process at a plain Redis subscriber (baseline) and at the gateway's SSE client.`,
    '',
    table([
      { path: 'real job, standalone: event log → SSE client (baseline)', events: standalone.latencies.length, latency: spread(standalone.latencies), target: '—' },
      { path: 'real job, queue: event log → Redis → gateway → SSE client', events: queued.latencies.length, latency: spread(queued.latencies), target: 'p50 < 5 ms, p99 < 20 ms' },
      { path: 'final event, standalone (sent before the log is saved)', events: standalone.finals.length, latency: spread(standalone.finals), target: '—' },
      { path: 'final event, queue (published once the log is saved and the lock let go)', events: queued.finals.length, latency: spread(queued.finals), target: '—' },
      { path: 'synthetic: append → plain Redis subscriber (baseline)', events: probe.redis.length, latency: spread(probe.redis), target: '—' },
      { path: 'synthetic: append → gateway → SSE client', events: probe.gateway.length, latency: spread(probe.gateway), target: 'p50 < 5 ms, p99 < 20 ms' },
      { path: 'synthetic: what the gateway adds (paired, per event)', events: probe.added.length, latency: spread(probe.added), target: '—' },
      {
        path: `synthetic, ${fan.subscribers} subscribers (section 3): append → each SSE client`,
        events: fan.latencies.length,
        latency: spread(fan.latencies),
        target: '—',
      },
    ]),
    '',
    `**3. ${fan.subscribers} SSE subscribers on one gateway** — ${fan.sessions} running (synthetic) jobs, ${fan.subscribers / fan.sessions} subscribers each; ${settings.fanOut.events} events of ~${settings.fanOut.eventBytes} B per job, one round over the jobs every ${settings.fanOut.paceMs} ms, then each job's final event.`,
    '',
    table([
      { metric: 'gateway RSS idle (baseline)', value: `${fmt(fan.rssIdleMiB)} MiB` },
      { metric: `gateway RSS with ${fan.subscribers} subscribers connected`, value: `${fmt(fan.rssConnectedMiB)} MiB (${fmt(((fan.rssConnectedMiB - fan.rssIdleMiB) * 1024) / fan.subscribers)} KiB each)` },
      { metric: 'gateway RSS peak while relaying (target < 200 MiB)', value: `${fmt(fan.rssPeakMiB)} MiB (${fmt(fan.rssPeakMiB / fan.rssIdleMiB, 2)} × idle)` },
      { metric: 'gateway RSS after every stream ended', value: `${fmt(fan.rssAfterMiB)} MiB` },
      { metric: `time to open ${fan.subscribers} streams and get \`connected\` on each`, value: ms(fan.connectMs, 0) },
      { metric: 'events delivered (expected)', value: `${fan.deliveries} (${fan.subscribers * fan.eventsPerSession})` },
      { metric: 'streams that lost, repeated or reordered an event (target 0)', value: String(fan.broken) },
      { metric: 'gateway CPU per delivered event', value: `${fmt((fan.cpuMs * 1000) / fan.deliveries)} µs (${ms(fan.cpuMs, 0)} in ${ms(fan.relayMs, 0)})` },
    ]),
    '',
    `**4. Enqueue throughput** — no worker running; ${settings.enqueueJobs} requests from ${settings.enqueueClients} concurrent clients, a new connection each; a POST leaves as soon as the response head arrives.`,
    '',
    table([
      { metric: 'GET /health answered per second (baseline)', value: fmt(enqueue.healthPerSecond, 0) },
      { metric: 'POST /execute accepted (queued) per second (target > 500)', value: fmt(enqueue.jobsPerSecond, 0) },
      { metric: 'ratio execute / health', value: fmt(enqueue.jobsPerSecond / enqueue.healthPerSecond, 3) },
      { metric: 'CPU per GET /health: gateway / redis-server / clients', value: cpuLine(enqueue.healthCpu) },
      { metric: 'CPU per POST /execute: gateway / redis-server / clients', value: cpuLine(enqueue.jobsCpu) },
      { metric: "the gateway's own ceiling on one core (1 s / its CPU per job)", value: `${fmt(1000 / enqueue.jobsCpu.gateway, 0)} jobs/s` },
      { metric: 'accepted / refused', value: `${enqueue.accepted} / ${enqueue.refused}` },
      { metric: 'waiting in the queue afterwards (GET /status)', value: String(enqueue.waiting) },
    ]),
    '',
    `**5. 6 jobs on 2 slots** — each job's answer comes ${settings.slotJobDelayMs} ms after it is asked; medians of ${settings.slotRounds} rounds, alternating.`,
    '',
    table([
      {
        way: `2 standalone workers (1 slot each), clients retry 429 every ${settings.retryEveryMs} ms, round robin (baseline: the original's way)`,
        'total time': ms(retryMs, 0),
        requests: median(slots.retry.map((round) => round.requests)),
        ratio: '1.000',
      },
      {
        way: 'gateway + 2 queue workers (1 slot each)',
        'total time': ms(queueMs, 0),
        requests: median(slots.queue.map((round) => round.requests)),
        ratio: fmt(queueMs / retryMs, 3),
      },
    ]),
  ].join('\n');
}

