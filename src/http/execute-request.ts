import { z } from 'zod';
import type { Config } from '../config/env.js';
import { invalidField, WorkerError } from '../errors/worker-error.js';
import { branchNameProblem } from '../git/branch-name.js';
import { isAllowedRepoUrl } from '../git/repo-url.js';
import type { ExecuteRequest, GithubRequest } from '../jobs/job-request.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ProviderOptions } from '../providers/types.js';
import { SESSION_ID_PATTERN, SESSION_ID_RULE } from '../sessions/session-id.js';

/** The request value meaning "use the worker's environment default". */
const FROM_ENV = 'FROM_ENV';

/**
 * Length limits, in characters, of the free-text fields (API.md lists them):
 * an absurd value is a 400 naming the field, not a failure late inside git, an
 * agent or the GitHub API (issue #8). `userRequest` and the credentials are
 * bounded only by MAX_REQUEST_BYTES.
 */
const MAX_LENGTH = {
  provider: 100,
  repoUrl: 2048,
  /** Tokens travel in HTTP headers (git, the DB API), which servers cap at about 8 KiB. */
  token: 4096,
  model: 256,
  dbSessionId: 256,
  /** GitHub's own limits for a pull request. */
  pullRequestTitle: 256,
  pullRequestBody: 65_536,
} as const;

/** `github.directory`, in UTF-8 bytes: leaves room under PATH_MAX (4096) for the workspace path before it. */
const DIRECTORY_MAX_BYTES = 1024;
/** NAME_MAX: the longest file name, in bytes. */
const FILE_NAME_MAX_BYTES = 255;

const textUpTo = (max: number) => z.string().max(max, `must be at most ${max} characters long`);
const nonEmptyTextUpTo = (max: number) => textUpTo(max).min(1, 'must not be empty');

/** A string checked by a function that says what is wrong with it. */
const checkedString = (problemOf: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const problem = problemOf(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

const branchName = checkedString(branchNameProblem);

const base64 = z
  .string()
  .min(1, 'must not be empty')
  .refine((value) => value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value), 'must be valid base64');

// Each union names its own accepted forms: zod's message for a value that fits no branch is only "Invalid input".
const contentBlock = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('text'), text: z.string().min(1, 'must not be empty') }),
    z.object({
      type: z.literal('image'),
      source: z.object({
        type: z.literal('base64'),
        media_type: z.enum(['image/png', 'image/jpeg', 'image/gif', 'image/webp']),
        data: base64,
      }),
    }),
  ],
  { error: 'must be a {"type":"text","text":...} or {"type":"image","source":{...}} block' },
);

const sessionId = z.string().regex(SESSION_ID_PATTERN, SESSION_ID_RULE);

/**
 * The POST /execute body as validated; GET /openapi.json documents the request
 * from this schema's input side (checks written as functions are not in it).
 */
export const executeBodySchema = z.object({
  userRequest: z.union(
    [
      z.string().refine((text) => text.trim() !== '', 'must not be empty'),
      z.array(contentBlock).min(1, 'must have at least one block'),
    ],
    { error: 'must be a non-empty string or a non-empty array of text and image blocks' },
  ),
  codingAssistantProvider: nonEmptyTextUpTo(MAX_LENGTH.provider).optional(),
  codingAssistantAuthentication: z
    .union([z.string(), z.record(z.string(), z.unknown())], {
      error: 'must be a string (an API key, or credentials as JSON) or a credentials object',
    })
    .optional(),
  websiteSessionId: sessionId.optional(),
  resumeSessionId: sessionId.optional(),
  github: z
    .object({
      repoUrl: nonEmptyTextUpTo(MAX_LENGTH.repoUrl),
      branch: branchName.optional(),
      directory: checkedString(directoryProblem).optional(),
      accessToken: nonEmptyTextUpTo(MAX_LENGTH.token).optional(),
    })
    .optional(),
  autoCommit: z.boolean().optional(),
  database: z
    .object({
      sessionId: nonEmptyTextUpTo(MAX_LENGTH.dbSessionId).optional(),
      accessToken: nonEmptyTextUpTo(MAX_LENGTH.token),
    })
    .optional(),
  providerOptions: z
    .looseObject({
      model: nonEmptyTextUpTo(MAX_LENGTH.model).optional(),
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
    .union(
      [
        z.literal(true),
        z.literal(false),
        z.object({
          draft: z.boolean().optional(),
          title: nonEmptyTextUpTo(MAX_LENGTH.pullRequestTitle).optional(),
          body: textUpTo(MAX_LENGTH.pullRequestBody).optional(),
          base: branchName.optional(),
        }),
      ],
      { error: 'must be true, false or an object {draft?, title?, body?, base?}' },
    )
    .optional(),
});

/** Validates a parsed JSON body; throws a WorkerError (400) naming the first offending field. */
export function parseExecuteRequest(
  body: unknown,
  config: Readonly<Config>,
  providers: ProviderRegistry,
): ExecuteRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    // An empty body parses to undefined (see json-body.ts).
    const empty = body === undefined ? ' (it is empty)' : '';
    throw new WorkerError('VALIDATION_ERROR', `The request body must be a JSON object${empty}.`);
  }
  const result = executeBodySchema.safeParse(body);
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

function parseGithub(github: z.infer<typeof executeBodySchema>['github'] & object, config: Readonly<Config>): GithubRequest {
  const { repoUrl } = github;
  if (!isAllowedRepoUrl(repoUrl, config.gitAllowedUrlPrefixes)) {
    throw invalidField(
      'github.repoUrl',
      `github.repoUrl must be a plain http(s) URL under one of: ${config.gitAllowedUrlPrefixes.map((prefix) => prefix.href).join(', ')}`,
    );
  }
  const accessToken = fromEnv(github.accessToken, config.defaults.githubToken);
  return { repoUrl, branch: github.branch, directory: github.directory, accessToken };
}

/**
 * For a union, the issue of the branch that matched the value's shape, with its
 * full path; the union's own issue (and message) when no branch did.
 */
function innermostIssue(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const branch = issue.errors.find((issues) => issues.length > 0 && !isShapeMismatch(issues[0]!));
  if (!branch) return issue;
  const inner = branch[0]!;
  return innermostIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue);
}

/** A branch's issue about the value itself being of another type or literal: the value does not have that branch's shape. */
function isShapeMismatch(issue: z.core.$ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (value === undefined) return 'is required';
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

/** Why `dir` is not a usable `github.directory`, or undefined. */
function directoryProblem(dir: string): string | undefined {
  const bytes = Buffer.byteLength(dir);
  if (bytes > DIRECTORY_MAX_BYTES) return `must be at most ${DIRECTORY_MAX_BYTES} bytes long (it has ${bytes})`;
  if (!isSafeRelativePath(dir)) return 'must be a relative path inside the repository';
  if (dir.split('/').some((part) => Buffer.byteLength(part) > FILE_NAME_MAX_BYTES)) {
    return `must not have a "/"-separated part longer than ${FILE_NAME_MAX_BYTES} bytes`;
  }
  return undefined;
}

function isSafeRelativePath(dir: string): boolean {
  if (dir.startsWith('/') || dir.includes('\\') || dir.includes('\0')) return false;
  return dir.split('/').every((part) => part !== '..');
}
