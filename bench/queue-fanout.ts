import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { WorkerEvent } from '../src/events/registry.js';
import { ClusterSessions } from '../src/queue/cluster-sessions.js';
import { keys, queueJobId } from '../src/queue/keys.js';
import { rssMiB } from './lib.js';
import { openSse, type SseStreamHandle } from './sse-client.js';

/**
 * The event path of a running job without an agent: this process takes the
 * worker's place and appends events with the project's own ClusterSessions —
 * the same Lua script (XADD + PUBLISH) a worker's EventPublisher runs — and the
 * gateway relays them (EventRelay → SSE) to clients in this process, so the
 * publish and the arrival are timed with one clock, to the microsecond.
 */
export class SyntheticJob {
  private lastId = 0;
  /** `performance.now()` just before each event's append was sent, by id. */
  readonly sentAt = new Map<number, number>();

  private constructor(
    private readonly sessions: ClusterSessions,
    readonly sessionId: string,
    private readonly jobId: string,
  ) {}

  /** Claims the session as a gateway does, takes it as a worker does, and appends `connected` (id 1). */
  static async start(sessions: ClusterSessions, sessionId: string): Promise<SyntheticJob> {
    const jobId = queueJobId(randomUUID(), sessionId);
    if ((await sessions.claim(sessionId, jobId, 'claude', 0)) !== undefined) throw new Error(`${sessionId} is claimed`);
    // Alive for ten minutes: the gateway's watcher must not end the job as WORKER_LOST.
    if ((await sessions.take(sessionId, jobId, 'bench', 600_000)) !== 0) throw new Error(`could not take ${sessionId}`);
    const job = new SyntheticJob(sessions, sessionId, jobId);
    await job.append({ type: 'connected', sessionId, resuming: false, provider: 'claude', timestamp: new Date().toISOString() });
    return job;
  }

  async append(event: WorkerEvent): Promise<number> {
    const id = this.lastId + 1;
    this.sentAt.set(id, performance.now());
    if (!(await this.sessions.appendNumbered(this.sessionId, this.jobId, { id, event }))) throw new Error(`append ${id} to ${this.sessionId} refused`);
    this.lastId = id;
    return id;
  }

  /** A progress event of about `bytes` bytes of JSON. */
  appendMessage(bytes: number): Promise<number> {
    return this.append({ type: 'message', message: 'x'.repeat(Math.max(0, bytes - 70)), timestamp: new Date().toISOString() });
  }

  /** Appends `completed` and frees the session, as a worker ends a job; returns its id. */
  async finish(): Promise<number> {
    const id = this.lastId + 1;
    const final = { id, event: { type: 'completed' as const, sessionId: this.sessionId, duration_ms: 1, timestamp: new Date().toISOString() } };
    this.sentAt.set(id, performance.now());
    if (!(await this.sessions.appendFinal(this.sessionId, this.jobId, final, 'running'))) throw new Error(`final event of ${this.sessionId} refused`);
    this.lastId = id;
    return id;
  }
}

/** The nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)] ?? NaN;
}

/** How many streams did not get exactly ids 1…lastId in order. */
function countBroken(streams: SseStreamHandle[], lastId: number): number {
  return streams.filter((stream) => stream.arrivals.length !== lastId || stream.arrivals.some((arrival, index) => arrival.id !== index + 1)).length;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export interface RelayProbe {
  events: number;
  /** Append sent → arrival at a plain Redis subscriber in this process (ms). */
  redis: number[];
  /** Append sent → arrival at an SSE client of the gateway (ms). */
  gateway: number[];
  /** Per event: gateway arrival − Redis subscriber arrival (ms). */
  added: number[];
}

/**
 * One synthetic job, one SSE client on the gateway and one plain Redis
 * subscriber on the session's channel; `count` events appended every `paceMs`.
 * Each event is timed at both: what the gateway adds is the difference.
 */
export async function probeRelay(redis: () => Redis, gatewayUrl: string, count: number, paceMs: number): Promise<RelayProbe> {
  const commands = redis();
  const subscriber = redis();
  try {
    const job = await SyntheticJob.start(new ClusterSessions(commands), `relay-probe-${randomUUID()}`);
    const direct = new Map<number, number>();
    subscriber.on('message', (_channel: string, message: string) => direct.set(Number(message.slice(0, message.indexOf('|'))), performance.now()));
    await subscriber.subscribe(keys.events(job.sessionId));
    const stream = await openSse(`${gatewayUrl}/sessions/${job.sessionId}/stream`);
    await waitFor(() => stream.arrivals.length >= 1, 'the probe stream to open');
    for (let index = 0; index < count; index++) {
      await job.appendMessage(400);
      await sleep(paceMs);
    }
    const lastId = await job.finish();
    await stream.ended;
    if (countBroken([stream], lastId) > 0) throw new Error(`the probe stream got ${stream.arrivals.map((arrival) => arrival.id).join(',')}`);
    const result: RelayProbe = { events: count, redis: [], gateway: [], added: [] };
    for (const arrival of stream.arrivals.slice(1, -1)) {
      const sent = job.sentAt.get(arrival.id)!;
      const viaRedis = direct.get(arrival.id)!;
      result.redis.push(viaRedis - sent);
      result.gateway.push(arrival.at - sent);
      result.added.push(arrival.at - viaRedis);
    }
    return result;
  } finally {
    commands.disconnect();
    subscriber.disconnect();
  }
}

export interface FanOutResult {
  subscribers: number;
  sessions: number;
  eventsPerSession: number;
  deliveries: number;
  /** Streams that missed, repeated or reordered an event, or did not end. */
  broken: number;
  rssIdleMiB: number;
  rssConnectedMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  /** Gateway CPU time (user + system) while the events were relayed. */
  cpuMs: number;
  relayMs: number;
  /** Append sent → arrival, over every delivery. */
  latencies: number[];
  connectMs: number;
}

/**
 * `subscribers` GET /sessions/:id/stream connections spread over `sessionCount`
 * synthetic running jobs on one gateway; each job then gets `events` events,
 * one round over all jobs every `paceMs`, and its final event. Every stream
 * must get every event once, in order, and end.
 */
export async function fanOut(
  redis: () => Redis,
  gateway: { url: string; pid: number },
  options: { subscribers: number; sessions: number; events: number; paceMs: number; eventBytes: number },
): Promise<FanOutResult> {
  const commands = redis();
  const sessions = new ClusterSessions(commands);
  const streams: SseStreamHandle[] = [];
  try {
    const rssIdleMiB = (await rssMiB(gateway.pid))!;
    const jobs = await Promise.all(Array.from({ length: options.sessions }, (_, index) => SyntheticJob.start(sessions, `fan-out-${index}-${randomUUID()}`)));
    const connectStarted = performance.now();
    // Batches of 100: the gateway's listen backlog (511) must not overflow.
    for (let first = 0; first < options.subscribers; first += 100) {
      const batch = Array.from({ length: Math.min(100, options.subscribers - first) }, (_, index) =>
        openSse(`${gateway.url}/sessions/${jobs[(first + index) % jobs.length]!.sessionId}/stream`, { keepData: false }),
      );
      streams.push(...(await Promise.all(batch)));
    }
    if (streams.some((stream) => stream.status !== 200)) throw new Error('a subscriber was refused');
    await waitFor(() => streams.every((stream) => stream.arrivals.length >= 1), 'every subscriber to get `connected`');
    const connectMs = performance.now() - connectStarted;
    const rssConnectedMiB = (await rssMiB(gateway.pid))!;

    let rssPeakMiB = rssConnectedMiB;
    const sampler = setInterval(() => void rssMiB(gateway.pid).then((rss) => (rssPeakMiB = Math.max(rssPeakMiB, rss ?? 0))), 50);
    const cpuBefore = await cpuTimeMs(gateway.pid);
    const relayStarted = performance.now();
    for (let round = 0; round < options.events; round++) {
      await Promise.all(jobs.map((job) => job.appendMessage(options.eventBytes)));
      await sleep(options.paceMs);
    }
    const lastIds = await Promise.all(jobs.map((job) => job.finish()));
    await Promise.race([Promise.all(streams.map((stream) => stream.ended)), sleep(60_000, undefined, { ref: false })]);
    const relayMs = performance.now() - relayStarted;
    const cpuMs = (await cpuTimeMs(gateway.pid)) - cpuBefore;
    clearInterval(sampler);
    const rssAfterMiB = (await rssMiB(gateway.pid))!;

    const latencies: number[] = [];
    let broken = 0;
    streams.forEach((stream, index) => {
      const job = jobs[index % jobs.length]!;
      broken += countBroken([stream], lastIds[index % jobs.length]!);
      for (const arrival of stream.arrivals.slice(1)) latencies.push(arrival.at - job.sentAt.get(arrival.id)!);
    });
    return {
      subscribers: options.subscribers,
      sessions: options.sessions,
      eventsPerSession: options.events + 2,
      deliveries: streams.reduce((sum, stream) => sum + stream.arrivals.length, 0),
      broken,
      rssIdleMiB,
      rssConnectedMiB,
      rssPeakMiB,
      rssAfterMiB,
      cpuMs,
      relayMs,
      latencies,
      connectMs,
    };
  } finally {
    for (const stream of streams) stream.close();
    commands.disconnect();
  }
}

/** User + system CPU time of a process, from /proc/<pid>/stat (clock ticks of 10 ms). */
export async function cpuTimeMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
