import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

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

const envSchema = z
  .object({
    PORT: integer(0, 65535).default(5000),
    HOST: z.string().min(1).default('0.0.0.0'),
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
    GIT_ALLOWED_URL_PREFIXES: z.string().default('https://github.com/'),
    GITHUB_API_URL: z.url().default('https://api.github.com'),
    GIT_AUTHOR_NAME: z.string().min(1).default('AI Coding Worker'),
    GIT_AUTHOR_EMAIL: z.string().min(1).default('worker@ai-coding-worker.local'),
    DB_BASE_URL: z.url().optional(),
    ANTHROPIC_BASE_URL: z.url().optional(),
    OPENAI_BASE_URL: z.url().optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    MAX_REQUEST_BYTES: integer(1024).default(10 * 1024 * 1024),
    SHUTDOWN_GRACE_MS: integer(0).default(30_000),
    KEEPALIVE_MS: integer(100).default(15_000),
    SESSION_LEASE_TTL_MS: integer(1_000).default(60_000),
    CHECKPOINT_INTERVAL_MS: integer(100).default(5_000),
    SAVE_RETRY_ATTEMPTS: integer(1, 20).default(4),
    WORKER_ID: optionalString,
  })
  .superRefine((env, ctx) => {
    if (env.STORAGE === 's3' && !env.MINIO_ENDPOINT) {
      ctx.addIssue({ code: 'custom', path: ['MINIO_ENDPOINT'], message: 'is required when STORAGE=s3' });
    }
  });

/** Every variable the worker reads, for the documentation check. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  port: number;
  host: string;
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
  gitAllowedUrlPrefixes: string[];
  githubApiUrl: string;
  gitAuthor: { name: string; email: string };
  dbBaseUrl?: string;
  /** Values passed on to agents (LLM endpoints). */
  agentEnv: Record<string, string>;
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
  /** Names this worker as the holder of session locks. */
  workerId: string;
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
        const shown = value === undefined || isSecretName(name) ? '' : ` (got ${JSON.stringify(value)})`;
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
    port: env.PORT,
    host: env.HOST,
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
    gitAllowedUrlPrefixes: env.GIT_ALLOWED_URL_PREFIXES.split(',')
      .map((prefix) => prefix.trim())
      .filter(Boolean),
    githubApiUrl: env.GITHUB_API_URL,
    gitAuthor: { name: env.GIT_AUTHOR_NAME, email: env.GIT_AUTHOR_EMAIL },
    dbBaseUrl: env.DB_BASE_URL,
    agentEnv,
    logLevel: env.LOG_LEVEL,
    maxRequestBytes: env.MAX_REQUEST_BYTES,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    keepAliveMs: env.KEEPALIVE_MS,
    leaseTtlMs: env.SESSION_LEASE_TTL_MS,
    checkpointIntervalMs: env.CHECKPOINT_INTERVAL_MS,
    saveRetryAttempts: env.SAVE_RETRY_ATTEMPTS,
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
  ].filter((value): value is string => typeof value === 'string' && value.length > 0);
}

function isSecretName(name: string): boolean {
  return /TOKEN|SECRET|AUTHENTICATION|KEY/.test(name);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
