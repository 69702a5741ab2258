import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseAllowedUrlPrefix, type AllowedUrlPrefix } from '../git/repo-url.js';
import { parseEncryptionKey } from '../queue/job-payload.js';

/**
 * The worker's configuration: `process.env` is read here and nowhere else.
 * Parsed once with a schema, every problem reported at once, then frozen.
 */

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** A URL, or nothing: an empty value (`FOO=` in a Compose file passing an unset variable on) counts as unset. */
const optionalUrl = optionalString.pipe(z.url().optional());

const envSchema = z
  .object({
    PORT: integer(0, 65535).default(5000),
    // No default here: it depends on WORKER_API_TOKEN (see loadConfig).
    HOST: z.string().min(1).optional(),
    WORKSPACE_DIR: optionalString,
    STORAGE: z.enum(['fs', 's3']).optional(),
    SESSIONS_DIR: z.string().min(1).default('./data/sessions'),
    MINIO_ENDPOINT: optionalString,
    MINIO_ACCESS_KEY: optionalString,
    MINIO_SECRET_KEY: optionalString,
    MINIO_USE_SSL: booleanString.default(false),
    MINIO_BUCKET: z.string().min(1).default('sessions'),
    ARCHIVE_COMPRESSION: z.enum(['none', 'br']).default('none'),
    MAX_CONCURRENT_JOBS: integer(1, 1000).default(1),
    EXIT_AFTER_JOB: booleanString.default(false),
    WORKER_API_TOKEN: optionalString,
    CODING_ASSISTANT_PROVIDER: optionalString,
    CODING_ASSISTANT_AUTHENTICATION: optionalString,
    GITHUB_ACCESS_TOKEN: optionalString,
    GIT_ALLOWED_URL_PREFIXES: z
      .string()
      .default('https://github.com/')
      .transform((value, ctx) => {
        const prefixes: AllowedUrlPrefix[] = [];
        for (const entry of value.split(',').map((part) => part.trim()).filter(Boolean)) {
          const parsed = parseAllowedUrlPrefix(entry);
          if (parsed.ok) prefixes.push(parsed.prefix);
          else {
            // The message names the entry (without credentials), so the whole value is not echoed.
            ctx.addIssue({ code: 'custom', message: `entry ${parsed.problem}`, input: value, params: { namesValue: true } });
          }
        }
        return prefixes;
      }),
    GITHUB_API_URL: z.url().default('https://api.github.com'),
    GIT_AUTHOR_NAME: z.string().min(1).default('AI Coding Worker'),
    GIT_AUTHOR_EMAIL: z.string().min(1).default('worker@ai-coding-worker.local'),
    DB_BASE_URL: optionalUrl,
    ANTHROPIC_BASE_URL: optionalUrl,
    OPENAI_BASE_URL: optionalUrl,
    CLAUDE_OAUTH_TOKEN_URL: optionalUrl,
    CREDENTIALS_HANDBACK_TTL_MS: integer(1_000).default(10 * 60_000),
    AGENT_NETWORK: z.enum(['open', 'proxy-only']).default('open'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    MAX_REQUEST_BYTES: integer(1024).default(10 * 1024 * 1024),
    SHUTDOWN_GRACE_MS: integer(0).default(30_000),
    KEEPALIVE_MS: integer(100).default(15_000),
    SESSION_LEASE_TTL_MS: integer(1_000).default(60_000),
    CHECKPOINT_INTERVAL_MS: integer(100).default(5_000),
    SAVE_RETRY_ATTEMPTS: integer(1, 20).default(4),
    LOCAL_CACHE_MAX_BYTES: integer(0).default(10 * 1024 ** 3),
    LOCAL_CACHE_MAX_AGE_MS: integer(0).default(24 * 3_600_000),
    WORKER_ID: optionalString,
    CODEX_SANDBOX_MODE: z.enum(['read-only', 'workspace-write', 'danger-full-access']).optional(),
    ROLE: z.enum(['standalone', 'gateway', 'worker']).default('standalone'),
    REDIS_URL: optionalString.refine(
      (value) => value === undefined || /^rediss?:\/\/[^\s]+$/.test(value),
      'must be a redis:// or rediss:// URL',
    ),
    JOB_ENCRYPTION_KEY: optionalString.refine(
      (value) => value === undefined || parseEncryptionKey(value) !== undefined,
      'must be 32 bytes as 64 hex characters or as base64 (e.g. `openssl rand -hex 32`)',
    ),
    QUEUE_MAX: integer(1).default(1000),
    AGENT_ISOLATION: z.enum(['auto', 'required', 'off']).default('auto'),
    AGENT_UID_RANGE: z
      .string()
      .regex(/^\d+-\d+$/, 'must be FIRST-LAST, e.g. 61000-61999')
      .default('61000-61999')
      .transform((value) => {
        const [first, last] = value.split('-').map(Number) as [number, number];
        return { first, last };
      })
      .refine((range) => range.first >= 1000 && range.last >= range.first && range.last <= 4_294_967_294, {
        message: 'must lie within 1000-4294967294 with FIRST <= LAST (never root or a system uid)',
      }),
  })
  .superRefine((env, ctx) => {
    if (env.STORAGE === 's3' && !env.MINIO_ENDPOINT) {
      ctx.addIssue({ code: 'custom', path: ['MINIO_ENDPOINT'], message: 'is required when STORAGE=s3' });
    }
    if (env.ROLE !== 'standalone') {
      for (const name of ['REDIS_URL', 'JOB_ENCRYPTION_KEY'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: `is required when ROLE=${env.ROLE}` });
      }
    }
  });

/** Every variable the worker reads, for the documentation check. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  /** Which composition root runs (src/roles): everything here, the public API over the queue, or a queue worker. */
  role: 'standalone' | 'gateway' | 'worker';
  /** The Redis-backed queue (gateway and worker roles). */
  queue?: {
    redisUrl: string;
    /** JOB_ENCRYPTION_KEY, 32 bytes as hex (a Buffer cannot be frozen). */
    encryptionKeyHex: string;
    /** Waiting jobs beyond which the gateway answers 429 QUEUE_FULL. */
    max: number;
  };
  port: number;
  host: string;
  /**
   * Why `host`: set with HOST, or the default — 0.0.0.0 with WORKER_API_TOKEN,
   * 127.0.0.1 without, so an API that runs code is not open to the network by accident.
   */
  hostSource: 'HOST' | 'default-with-token' | 'default-without-token';
  workspaceDir: string;
  storage:
    | { kind: 'fs'; sessionsDir: string }
    | {
        kind: 's3';
        endpoint: string;
        accessKey?: string;
        secretKey?: string;
        useSsl: boolean;
        bucket: string;
        /** Brotli pays only on links slower than ~250 Mbit/s (docs/storage.md). */
        compression: 'none' | 'br';
      };
  maxConcurrentJobs: number;
  exitAfterJob: boolean;
  apiToken?: string;
  defaults: { provider?: string; authentication?: string; githubToken?: string };
  /** Parsed at start-up; a `repoUrl` must match one (`isAllowedRepoUrl`). */
  gitAllowedUrlPrefixes: AllowedUrlPrefix[];
  githubApiUrl: string;
  gitAuthor: { name: string; email: string };
  dbBaseUrl?: string;
  /** Per provider name: option defaults for requests that leave them out (CODEX_SANDBOX_MODE). */
  providerDefaults: Record<string, Record<string, unknown>>;
  /** Values passed on to agents (LLM endpoints). */
  agentEnv: Record<string, string>;
  /** The model APIs the worker's model proxy forwards to (src/model-proxy). */
  modelUpstreams: { anthropic: string; openai: string };
  /** Where expired Claude OAuth logins are refreshed; undefined: Claude Code's own endpoint. */
  claudeOauthTokenUrl?: string;
  /** How long refreshed credentials wait for `GET /sessions/:id/credentials` after their job. */
  credentialsHandbackTtlMs: number;
  /** `proxy-only`: agents reach the model proxy and their git remote, nothing else (src/isolation/egress). */
  agentNetwork: 'open' | 'proxy-only';
  logLevel: string;
  maxRequestBytes: number;
  shutdownGraceMs: number;
  keepAliveMs: number;
  /** How long a session lock lives unless renewed; a dead worker's sessions free up after this. */
  leaseTtlMs: number;
  /** How often a running job's event log and metadata are flushed to the store. */
  checkpointIntervalMs: number;
  /** Attempts at saving a finished session before it is kept locally for a later save. */
  saveRetryAttempts: number;
  /** Bounds of the idle local session copies under `workspaceDir/sessions` (jobs/local-cache.ts). */
  localCache: { maxBytes: number; maxAgeMs: number };
  /** Names this worker as the holder of session locks. */
  workerId: string;
  /** Whether agents run under uids of their own (README "Isolation"). */
  agentIsolation: 'auto' | 'required' | 'off';
  /** Where the agents' uids (and gids) come from: one per job slot. */
  agentUidRange: { first: number; last: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError that lists every problem. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = issue.path.join('.');
        const value = source[name];
        const namesValue = issue.code === 'custom' && issue.params?.namesValue === true;
        const shown = value === undefined || namesValue || isSecretName(name) ? '' : ` (got ${JSON.stringify(value)})`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  const env = result.data;
  const storageKind = env.STORAGE ?? (env.MINIO_ENDPOINT ? 's3' : 'fs');
  const agentEnv: Record<string, string> = {};
  if (env.ANTHROPIC_BASE_URL) agentEnv.ANTHROPIC_BASE_URL = env.ANTHROPIC_BASE_URL;
  if (env.OPENAI_BASE_URL) agentEnv.OPENAI_BASE_URL = env.OPENAI_BASE_URL;

  const config: Config = {
    role: env.ROLE,
    queue:
      env.ROLE !== 'standalone' && env.REDIS_URL && env.JOB_ENCRYPTION_KEY
        ? {
            redisUrl: env.REDIS_URL,
            encryptionKeyHex: parseEncryptionKey(env.JOB_ENCRYPTION_KEY)!.toString('hex'),
            max: env.QUEUE_MAX,
          }
        : undefined,
    port: env.PORT,
    host: env.HOST ?? (env.WORKER_API_TOKEN ? '0.0.0.0' : '127.0.0.1'),
    hostSource: env.HOST !== undefined ? 'HOST' : env.WORKER_API_TOKEN ? 'default-with-token' : 'default-without-token',
    workspaceDir: path.resolve(env.WORKSPACE_DIR ?? path.join(os.tmpdir(), 'ai-coding-worker')),
    storage:
      storageKind === 's3'
        ? {
            kind: 's3',
            endpoint: env.MINIO_ENDPOINT ?? '',
            accessKey: env.MINIO_ACCESS_KEY,
            secretKey: env.MINIO_SECRET_KEY,
            useSsl: env.MINIO_USE_SSL,
            bucket: env.MINIO_BUCKET,
            compression: env.ARCHIVE_COMPRESSION,
          }
        : { kind: 'fs', sessionsDir: path.resolve(env.SESSIONS_DIR) },
    maxConcurrentJobs: env.MAX_CONCURRENT_JOBS,
    exitAfterJob: env.EXIT_AFTER_JOB,
    apiToken: env.WORKER_API_TOKEN,
    defaults: {
      provider: env.CODING_ASSISTANT_PROVIDER,
      authentication: env.CODING_ASSISTANT_AUTHENTICATION,
      githubToken: env.GITHUB_ACCESS_TOKEN,
    },
    gitAllowedUrlPrefixes: env.GIT_ALLOWED_URL_PREFIXES,
    githubApiUrl: env.GITHUB_API_URL,
    gitAuthor: { name: env.GIT_AUTHOR_NAME, email: env.GIT_AUTHOR_EMAIL },
    dbBaseUrl: env.DB_BASE_URL,
    agentEnv,
    modelUpstreams: {
      anthropic: env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
      openai: env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
    },
    claudeOauthTokenUrl: env.CLAUDE_OAUTH_TOKEN_URL,
    credentialsHandbackTtlMs: env.CREDENTIALS_HANDBACK_TTL_MS,
    agentNetwork: env.AGENT_NETWORK,
    providerDefaults: env.CODEX_SANDBOX_MODE ? { codex: { sandboxMode: env.CODEX_SANDBOX_MODE } } : {},
    logLevel: env.LOG_LEVEL,
    maxRequestBytes: env.MAX_REQUEST_BYTES,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    keepAliveMs: env.KEEPALIVE_MS,
    leaseTtlMs: env.SESSION_LEASE_TTL_MS,
    checkpointIntervalMs: env.CHECKPOINT_INTERVAL_MS,
    saveRetryAttempts: env.SAVE_RETRY_ATTEMPTS,
    localCache: { maxBytes: env.LOCAL_CACHE_MAX_BYTES, maxAgeMs: env.LOCAL_CACHE_MAX_AGE_MS },
    agentIsolation: env.AGENT_ISOLATION,
    agentUidRange: env.AGENT_UID_RANGE,
    workerId: env.WORKER_ID ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
  };
  return deepFreeze(config);
}

/** Secrets found in the configuration, for the redactor. */
export function configSecrets(config: Config): string[] {
  return [
    config.apiToken,
    config.defaults.authentication,
    config.defaults.githubToken,
    config.storage.kind === 's3' ? config.storage.secretKey : undefined,
    config.queue?.encryptionKeyHex,
    config.queue ? Buffer.from(config.queue.encryptionKeyHex, 'hex').toString('base64') : undefined,
    config.queue ? redisPassword(config.queue.redisUrl) : undefined,
  ].filter((value): value is string => typeof value === 'string' && value.length > 0);
}

function redisPassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

function isSecretName(name: string): boolean {
  return /TOKEN|SECRET|AUTHENTICATION|KEY|REDIS_URL/.test(name);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
