import { parseRepoUrl } from './repo-url.js';

export interface PullRequestOptions {
  draft?: boolean;
  title?: string;
  body?: string;
  base?: string;
}

export interface PullRequestInput {
  apiUrl: string;
  repoUrl: string;
  token: string;
  branch: string;
  baseBranch: string;
  /** Used when the request gives no title: the session title, else the commit subject. */
  defaultTitle: string;
  defaultBody: string;
  options: PullRequestOptions;
  signal: AbortSignal;
}

export interface PullRequestResult {
  url: string;
  number: number;
  action: 'created' | 'updated';
}

/** A failed GitHub API call; the message carries GitHub's own explanation, never the token. */
export class PullRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PullRequestError';
  }
}

const API_TIMEOUT_MS = 30_000;

/**
 * Creates the branch's pull request, or updates the open one a previous turn
 * created: GET /repos/{o}/{r}/pulls?head={o}:{branch}&state=open, then PATCH
 * (only the fields the request sets) or POST.
 */
export async function createOrUpdatePullRequest(input: PullRequestInput): Promise<PullRequestResult> {
  const { owner, repo } = parseRepoUrl(input.repoUrl);
  if (!owner) throw new PullRequestError(`Cannot tell the owner and repository from ${input.repoUrl}.`);
  const base = `${input.apiUrl.replace(/\/+$/, '')}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/pulls`;
  const call = (method: string, url: string, body?: unknown) => githubRequest(method, url, input, body);

  const query = new URLSearchParams({ head: `${owner}:${input.branch}`, state: 'open' });
  const open = (await call('GET', `${base}?${query}`)) as unknown;
  const existing = Array.isArray(open) ? (open[0] as Record<string, unknown> | undefined) : undefined;
  if (existing && typeof existing.number === 'number') {
    const changes: Record<string, string> = {};
    if (input.options.title) changes.title = input.options.title;
    if (input.options.body !== undefined) changes.body = input.options.body;
    if (input.options.base) changes.base = input.options.base;
    const updated = Object.keys(changes).length
      ? ((await call('PATCH', `${base}/${existing.number}`, changes)) as Record<string, unknown>)
      : existing;
    return { url: String(updated.html_url ?? existing.html_url ?? ''), number: existing.number, action: 'updated' };
  }

  const created = (await call('POST', base, {
    title: input.options.title ?? input.defaultTitle,
    head: input.branch,
    base: input.options.base ?? input.baseBranch,
    body: input.options.body ?? input.defaultBody,
    draft: input.options.draft ?? false,
  })) as Record<string, unknown>;
  if (typeof created.number !== 'number') throw new PullRequestError('GitHub answered without a pull request number.');
  return { url: String(created.html_url ?? ''), number: created.number, action: 'created' };
}

async function githubRequest(method: string, url: string, input: PullRequestInput, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        Accept: 'application/vnd.github+json',
        Authorization: `Bearer ${input.token}`,
        'X-GitHub-Api-Version': '2022-11-28',
        'User-Agent': 'ai-coding-worker',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any([input.signal, AbortSignal.timeout(API_TIMEOUT_MS)]),
    });
  } catch (error) {
    throw new PullRequestError(`${method} ${new URL(url).pathname} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    throw new PullRequestError(`GitHub answered ${response.status} to ${method} ${new URL(url).pathname}: ${describeGithubError(json, text)}`);
  }
  return json;
}

/** GitHub's `message` plus any `errors[].message` (e.g. "A pull request already exists for ..."). */
function describeGithubError(json: unknown, text: string): string {
  if (typeof json === 'object' && json !== null) {
    const record = json as { message?: unknown; errors?: Array<{ message?: unknown }> };
    const details = (record.errors ?? []).map((error) => error.message).filter((message) => typeof message === 'string');
    return [record.message, ...details].filter(Boolean).join('; ');
  }
  return text.slice(0, 300);
}
