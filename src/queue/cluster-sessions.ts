import type { Redis } from 'ioredis';
import type { NumberedEvent, WorkerEvent } from '../events/registry.js';
import { keys } from './keys.js';

/** Marks a channel message that is a sealed live-only event, not `<id>|<type>|<event JSON>`. */
export const LIVE_ONLY_PREFIX = 'live|';

/**
 * The first lines of every script that appends an event: only the job that
 * owns the claim may append, in its state, with an id above the last one.
 * KEYS[1] claim, KEYS[2] stream; ARGV[1] job id, ARGV[2] required state or ''.
 * Leaves `id`, or returns a negative reason.
 */
const OWNED_APPEND_PRELUDE = `
local claim = redis.call('HMGET', KEYS[1], 'job', 'state', 'lastId')
if claim[1] ~= ARGV[1] then return -1 end
if ARGV[2] ~= '' and claim[2] ~= ARGV[2] then return -2 end
local lastId = tonumber(claim[3])
`;

const APPEND = `
local function append(id, eventType, json)
  redis.call('XADD', KEYS[2], '0-' .. id, 't', eventType, 'e', json)
  redis.call('HSET', KEYS[1], 'lastId', id)
  redis.call('PUBLISH', KEYS[2], id .. '|' .. eventType .. '|' .. json)
  return id
end
`;

const SCRIPTS = {
  /** Claims a session for a new job; returns nil, or the job id that holds it. ARGV: job, provider, last id, now. */
  acwClaim: {
    keys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HGET', KEYS[1], 'job') end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'job', ARGV[1], 'state', 'queued', 'provider', ARGV[2], 'lastId', ARGV[3], 'at', ARGV[4])
return false`,
  },
  /** KEYS: claim. ARGV: job, last id. */
  acwSetLastId: {
    keys: 1,
    lua: `
if redis.call('HGET', KEYS[1], 'job') ~= ARGV[1] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'lastId')) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'lastId', ARGV[2]) end
return 1`,
  },
  /** Appends with the next id. ARGV: job, state, type, json. Returns the id. */
  acwAppendNext: {
    keys: 2,
    lua: `${APPEND}${OWNED_APPEND_PRELUDE}
return append(lastId + 1, ARGV[3], ARGV[4])`,
  },
  /** Appends with the caller's id (a worker's log numbers its own events). ARGV: job, state, type, json, id. */
  acwAppendAt: {
    keys: 2,
    lua: `${APPEND}${OWNED_APPEND_PRELUDE}
local id = tonumber(ARGV[5])
if id <= lastId then return -3 end
return append(id, ARGV[3], ARGV[4])`,
  },
  /**
   * A queued job's new position, appended as a \`queued\` event only when it moved
   * forward; beyond the first ten places at most every 5 s, so a long queue does
   * not flood its sessions' logs. ARGV: job, 'queued', 'queued', json, position, now.
   */
  acwPosition: {
    keys: 2,
    lua: `${APPEND}${OWNED_APPEND_PRELUDE}
local position = tonumber(ARGV[5])
local now = tonumber(ARGV[6])
local previous = redis.call('HMGET', KEYS[1], 'position', 'positionAt')
if previous[1] and position >= tonumber(previous[1]) then return 0 end
if previous[2] and position > 10 and now - tonumber(previous[2]) < 5000 then return 0 end
redis.call('HSET', KEYS[1], 'position', position, 'positionAt', now)
return append(lastId + 1, ARGV[3], ARGV[4])`,
  },
  /** A worker takes the queued job. KEYS: claim, alive. ARGV: job, worker, ttl ms. Returns the last id, or -1. */
  acwTake: {
    keys: 2,
    lua: `
local claim = redis.call('HMGET', KEYS[1], 'job', 'state', 'lastId')
if claim[1] ~= ARGV[1] or claim[2] ~= 'queued' then return -1 end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[2])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return tonumber(claim[3])`,
  },
  /**
   * A job's final event and the end of its claim, in one step: whoever reads the
   * final event finds the session free to resume (its store copy was saved first).
   * KEYS: claim, stream, alive. ARGV: job, state, type, json, id, retention s.
   */
  acwAppendFinal: {
    keys: 3,
    lua: `${APPEND}${OWNED_APPEND_PRELUDE}
local id = tonumber(ARGV[5])
if id <= lastId then return -3 end
append(id, ARGV[3], ARGV[4])
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return id`,
  },
  /** Lets the session go once its job ended. KEYS: claim, stream, alive. ARGV: job, retention s. */
  acwRelease: {
    keys: 3,
    lua: `
if redis.call('HGET', KEYS[1], 'job') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1`,
  },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptedRedis = Redis & Record<ScriptName, (...args: Array<string | number>) => Promise<unknown>>;

export type ClaimState = 'queued' | 'running';

export interface SessionClaim {
  sessionId: string;
  jobId: string;
  state: ClaimState;
  provider: string;
  lastId: number;
  /** When the claim was made (epoch ms). */
  at: number;
  worker?: string;
}

/** How long a finished job's event stream stays in Redis for late re-attaches (the store has it after). */
const STREAM_RETENTION_SECONDS = 3_600;

/**
 * The cluster-wide state of sessions with a queued or running job: the one
 * claim per session (one job per session across the cluster), their event
 * streams and the workers' liveness. Every change is one Lua script, so
 * gateways and workers never interleave halfway.
 */
export class ClusterSessions {
  private readonly redis: ScriptedRedis;

  constructor(redis: Redis) {
    for (const [name, script] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: script.keys, lua: script.lua });
    }
    this.redis = redis as ScriptedRedis;
  }

  /** Claims the session for `jobId`; returns the job id already holding it, or undefined when claimed. */
  async claim(sessionId: string, jobId: string, provider: string, lastId: number): Promise<string | undefined> {
    const holder = await this.redis.acwClaim(keys.claim(sessionId), keys.events(sessionId), jobId, provider, lastId, Date.now());
    return typeof holder === 'string' ? holder : undefined;
  }

  /** Moves the claim's event numbering on (the session's stored log grew before its job began). */
  async setLastId(sessionId: string, jobId: string, lastId: number): Promise<void> {
    await this.redis.acwSetLastId(keys.claim(sessionId), jobId, lastId);
  }

  async read(sessionId: string): Promise<SessionClaim | undefined> {
    const fields = await this.redis.hgetall(keys.claim(sessionId));
    if (!fields.job || (fields.state !== 'queued' && fields.state !== 'running')) return undefined;
    return {
      sessionId,
      jobId: fields.job,
      state: fields.state,
      provider: fields.provider ?? '',
      lastId: Number(fields.lastId ?? 0),
      at: Number(fields.at ?? 0),
      ...(fields.worker ? { worker: fields.worker } : {}),
    };
  }

  /**
   * Publishes a live-only event (`credentials_updated`), already sealed, to the session's
   * followers: on the channel only, never on the stream, so Redis keeps nothing of it.
   */
  async publishLiveOnly(sessionId: string, sealed: string): Promise<void> {
    await this.redis.publish(keys.events(sessionId), `${LIVE_ONLY_PREFIX}${sealed}`);
  }

  /** Appends an event with the session's next id; undefined when `jobId` no longer owns the session in `state`. */
  async appendNext(sessionId: string, jobId: string, event: WorkerEvent, state: ClaimState | '' = ''): Promise<number | undefined> {
    const id = Number(await this.redis.acwAppendNext(keys.claim(sessionId), keys.events(sessionId), jobId, state, event.type, JSON.stringify(event)));
    return id > 0 ? id : undefined;
  }

  /** Appends an event numbered by its job; false when the job no longer owns the session. */
  async appendNumbered(sessionId: string, jobId: string, event: NumberedEvent): Promise<boolean> {
    const result = Number(
      await this.redis.acwAppendAt(keys.claim(sessionId), keys.events(sessionId), jobId, 'running', event.event.type, JSON.stringify(event.event), event.id),
    );
    return result > 0;
  }

  /** Appends the job's final event and frees the session; false when the job no longer owns it. */
  async appendFinal(sessionId: string, jobId: string, final: NumberedEvent, state: ClaimState): Promise<boolean> {
    const result = await this.redis.acwAppendFinal(
      keys.claim(sessionId),
      keys.events(sessionId),
      keys.alive(jobId),
      jobId,
      state,
      final.event.type,
      JSON.stringify(final.event),
      final.id,
      STREAM_RETENTION_SECONDS,
    );
    return Number(result) > 0;
  }

  /** Records a queued job's position as a `queued` event when it moved forward. */
  async notePosition(sessionId: string, jobId: string, position: number): Promise<void> {
    const event: WorkerEvent = { type: 'queued', position, ahead: position - 1, timestamp: new Date().toISOString() };
    await this.redis.acwPosition(keys.claim(sessionId), keys.events(sessionId), jobId, 'queued', 'queued', JSON.stringify(event), position, Date.now());
  }

  /** A worker takes a queued job: returns the session's last event id, or undefined when the job lost its claim. */
  async take(sessionId: string, jobId: string, workerId: string, aliveTtlMs: number): Promise<number | undefined> {
    const lastId = Number(await this.redis.acwTake(keys.claim(sessionId), keys.alive(jobId), jobId, workerId, aliveTtlMs));
    return lastId >= 0 ? lastId : undefined;
  }

  async renewAlive(jobId: string, workerId: string, ttlMs: number): Promise<void> {
    await this.redis.set(keys.alive(jobId), workerId, 'PX', ttlMs);
  }

  async isAlive(jobId: string): Promise<boolean> {
    return (await this.redis.exists(keys.alive(jobId))) === 1;
  }

  /** Frees the session once `jobId`'s last event is out; its stream stays a while for late readers. */
  async release(sessionId: string, jobId: string): Promise<boolean> {
    const released = await this.redis.acwRelease(keys.claim(sessionId), keys.events(sessionId), keys.alive(jobId), jobId, STREAM_RETENTION_SECONDS);
    return Number(released) === 1;
  }

  /** The stream's events with ids above `afterId`, in order. */
  async eventsAfter(sessionId: string, afterId: number): Promise<NumberedEvent[]> {
    const entries = await this.redis.xrange(keys.events(sessionId), `(0-${afterId}`, '+');
    return entries.map(([streamId, fields]) => ({ id: streamEventId(streamId), event: JSON.parse(fieldOf(fields, 'e')) as WorkerEvent }));
  }

  /** The id of the stream's first event, or undefined when the session has no stream. */
  async firstStreamedId(sessionId: string): Promise<number | undefined> {
    const [first] = await this.redis.xrange(keys.events(sessionId), '-', '+', 'COUNT', 1);
    return first ? streamEventId(first[0]) : undefined;
  }

  /** Asks the job to stop wherever it runs: a flag the worker checks, and a message to the workers now. */
  async requestAbort(jobId: string): Promise<void> {
    await this.redis.multi().set(keys.abort(jobId), '1', 'EX', STREAM_RETENTION_SECONDS).publish(keys.abortChannel, jobId).exec();
  }

  async isAbortRequested(jobId: string): Promise<boolean> {
    return (await this.redis.exists(keys.abort(jobId))) === 1;
  }
}

/** Stream ids are `0-<event id>`. */
export function streamEventId(streamId: string): number {
  return Number(streamId.slice(streamId.indexOf('-') + 1));
}

function fieldOf(fields: string[], name: string): string {
  for (let index = 0; index < fields.length; index += 2) if (fields[index] === name) return fields[index + 1]!;
  throw new Error(`stream entry without field ${name}`);
}
