import { z } from 'zod';
import type { Config } from '../config/env.js';
import { invalidField, WorkerError } from '../errors/worker-error.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ParsedCredentials, Provider, ProviderOptions, UserRequest } from '../providers/types.js';
import { isValidSessionId } from '../sessions/session-id.js';

/** The request value meaning "use the worker's environment default". */
const FROM_ENV = 'FROM_ENV';

const base64 = z
  .string()
  .min(1, 'must not be empty')
  .refine((value) => value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value), 'must be valid base64');

const contentBlock = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string().min(1, 'must not be empty') }),
  z.object({
    type: z.literal('image'),
    source: z.object({
      type: z.literal('base64'),
      media_type: z.enum(['image/png', 'image/jpeg', 'image/gif', 'image/webp']),
      data: base64,
    }),
  }),
]);

const sessionId = z.string().refine(isValidSessionId, {
  message: 'must be 1-128 characters of A-Z a-z 0-9 . _ - and must not start with "."',
});

const bodySchema = z.object({
  userRequest: z.union([
    z.string().refine((text) => text.trim() !== '', 'must not be empty'),
    z.array(contentBlock).min(1, 'must have at least one block'),
  ]),
  codingAssistantProvider: z.string().min(1).optional(),
  codingAssistantAuthentication: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  websiteSessionId: sessionId.optional(),
  resumeSessionId: sessionId.optional(),
  github: z
    .object({
      repoUrl: z.string().min(1),
      branch: z
        .string()
        .min(1)
        .refine(isSafeBranchName, 'is not a valid branch name')
        .optional(),
      directory: z.string().refine(isSafeRelativePath, 'must be a relative path inside the repository').optional(),
      accessToken: z.string().min(1).optional(),
    })
    .optional(),
  autoCommit: z.boolean().optional(),
  database: z.object({ sessionId: z.string().min(1).optional(), accessToken: z.string().min(1) }).optional(),
  providerOptions: z
    .looseObject({
      model: z.string().min(1).optional(),
      permissionMode: z.enum(['default', 'acceptEdits', 'bypassPermissions', 'plan']).optional(),
      skipPermissions: z.boolean().optional(),
      maxTurns: z.number().int().positive().max(1000).optional(),
      maxRetries: z.number().int().min(0).max(20).optional(),
      apiTimeoutMs: z.number().int().positive().optional(),
      sandboxMode: z.enum(['read-only', 'workspace-write', 'danger-full-access']).optional(),
      networkAccess: z.boolean().optional(),
      reasoningEffort: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']).optional(),
    })
    .optional(),
  pullRequest: z
    .union([
      z.literal(true),
      z.literal(false),
      z.object({
        draft: z.boolean().optional(),
        title: z.string().min(1).optional(),
        body: z.string().optional(),
        base: z.string().min(1).refine(isSafeBranchName, 'is not a valid branch name').optional(),
      }),
    ])
    .optional(),
});

export interface GithubRequest {
  repoUrl: string;
  branch?: string;
  directory?: string;
  /** Never logged, stored or emitted. */
  accessToken?: string;
}

/** A validated POST /execute request, with defaults from the environment applied. */
export interface ExecuteRequest {
  userRequest: UserRequest;
  provider: Provider;
  credentials: ParsedCredentials;
  /** Session to create or resume, when the client named one. */
  websiteSessionId?: string;
  /** Session that must exist and be resumed. */
  resumeSessionId?: string;
  github?: GithubRequest;
  autoCommit: boolean;
  database?: { sessionId?: string; accessToken: string };
  providerOptions: ProviderOptions;
  pullRequest?: { draft?: boolean; title?: string; body?: string; base?: string };
}

/** Validates a parsed JSON body; throws a WorkerError (400) naming the first offending field. */
export function parseExecuteRequest(
  body: unknown,
  config: Readonly<Config>,
  providers: ProviderRegistry,
): ExecuteRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new WorkerError('VALIDATION_ERROR', 'The request body must be a JSON object.');
  }
  const result = bodySchema.safeParse(body);
  if (!result.success) {
    const issue = innermostIssue(result.error.issues[0]!);
    const field = issue.path.map(String).join('.');
    throw invalidField(field, `${field} ${describeIssue(issue, valueAt(body, issue.path))}`);
  }
  const input = result.data;

  const providerName = fromEnv(input.codingAssistantProvider, config.defaults.provider);
  if (!providerName) {
    throw invalidField('codingAssistantProvider', 'codingAssistantProvider is required (no CODING_ASSISTANT_PROVIDER default is set).');
  }
  const provider = providers.find(providerName);
  if (!provider) {
    throw invalidField(
      'codingAssistantProvider',
      `Unknown provider "${providerName}". Supported: ${providers.aliases().join(', ')}.`,
    );
  }

  const rawCredentials = fromEnv(input.codingAssistantAuthentication, config.defaults.authentication);
  if (rawCredentials === undefined || rawCredentials === '') {
    throw invalidField(
      'codingAssistantAuthentication',
      'codingAssistantAuthentication is required (no CODING_ASSISTANT_AUTHENTICATION default is set).',
    );
  }
  const credentials = provider.parseCredentials(rawCredentials);

  if (Array.isArray(input.userRequest) && !provider.capabilities.images) {
    if (input.userRequest.some((block) => block.type === 'image')) {
      throw invalidField('userRequest', `Provider ${provider.name} does not accept images.`);
    }
  }

  if (input.websiteSessionId && input.resumeSessionId && input.websiteSessionId !== input.resumeSessionId) {
    throw invalidField('resumeSessionId', 'websiteSessionId and resumeSessionId name different sessions.');
  }

  const github = input.github ? parseGithub(input.github, config) : undefined;
  const pullRequest = input.pullRequest === true ? {} : input.pullRequest || undefined;
  if (pullRequest && !github) throw invalidField('pullRequest', 'pullRequest needs a github repository.');

  if (input.database && !config.dbBaseUrl) {
    throw invalidField('database', 'database needs the worker to have DB_BASE_URL configured.');
  }

  const options: ProviderOptions = { ...input.providerOptions };
  return {
    userRequest: input.userRequest,
    provider,
    credentials,
    websiteSessionId: input.websiteSessionId,
    resumeSessionId: input.resumeSessionId,
    github,
    autoCommit: input.autoCommit ?? github !== undefined,
    database: input.database,
    providerOptions: options,
    pullRequest,
  };
}

function parseGithub(github: z.infer<typeof bodySchema>['github'] & object, config: Readonly<Config>): GithubRequest {
  const { repoUrl } = github;
  if (!isAllowedRepoUrl(repoUrl, config.gitAllowedUrlPrefixes)) {
    throw invalidField(
      'github.repoUrl',
      `github.repoUrl must start with one of: ${config.gitAllowedUrlPrefixes.join(', ')}`,
    );
  }
  const accessToken = fromEnv(github.accessToken, config.defaults.githubToken);
  return { repoUrl, branch: github.branch, directory: github.directory, accessToken };
}

/** Only plain http(s) URLs under an allowed prefix, with no credentials, options or transport helpers smuggled in. */
export function isAllowedRepoUrl(repoUrl: string, prefixes: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(repoUrl);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  if (/[\s\\]/.test(repoUrl) || repoUrl.includes('::')) return false;
  return prefixes.some((prefix) => repoUrl.startsWith(prefix));
}

/** For a union, the issue of the branch that matched the value's shape, with its full path. */
function innermostIssue(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const branch = issue.errors.find((issues) => issues.length > 0 && !(issues[0]!.code === 'invalid_type' && issues[0]!.path.length === 0));
  if (!branch) return issue;
  const inner = branch[0]!;
  return innermostIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue);
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (value === undefined && issue.code !== 'invalid_union') return 'is required';
  if (issue.code === 'invalid_union') {
    return issue.path.length === 1
      ? 'must be a non-empty string or a non-empty array of text and image blocks'
      : 'must be a {"type":"text","text":...} or {"type":"image","source":{...}} block';
  }
  if (issue.code === 'invalid_type') return issue.expected === 'int' ? 'must be a whole number' : `must be of type ${issue.expected}`;
  return issue.message;
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let current = body;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function fromEnv<T>(value: T | undefined, fallback: string | undefined): T | string | undefined {
  return value === undefined || value === FROM_ENV ? fallback : value;
}

/** A subset of git's check-ref-format rules, enough to keep names out of option and path tricks. */
function isSafeBranchName(name: string): boolean {
  return (
    /^[A-Za-z0-9._/-]+$/.test(name) &&
    !name.startsWith('-') &&
    !name.startsWith('/') &&
    !name.endsWith('/') &&
    !name.endsWith('.lock') &&
    !name.endsWith('.') &&
    !name.includes('..') &&
    !name.includes('//') &&
    !name.split('/').some((part) => part.startsWith('.'))
  );
}

function isSafeRelativePath(dir: string): boolean {
  if (dir.startsWith('/') || dir.includes('\\') || dir.includes('\0')) return false;
  return dir.split('/').every((part) => part !== '..');
}
