import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic, type FakeReply, type ScriptContext } from '../fixtures/fake-anthropic.js';
import {
  branchCommits,
  listBranches,
  readFileAt,
  rejectPushes,
  startFakePullsApi,
  startGitServer,
  type FakePullsApi,
  type GitServer,
} from '../fixtures/git-server.js';
import { postExecute, request } from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';
import { claudeRequest, findLeakedSecrets, readTree } from './helpers.js';

const GIT_TOKEN = 'ghp_JOBTEST_GIT_TOKEN_5d4c3b2a1f0e';

/** The agent writes the file named by "WRITE <name>" in the newest prompt, then answers. */
function writeWhatIsAsked({ request: recorded }: ScriptContext): FakeReply {
  // The newest user message: the binary may put an environment note (role "system") after it.
  const last = (recorded.body.messages as Array<{ role: string; content: unknown }>).findLast((message) => message.role === 'user')!;
  const text = typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
  const asked = /WRITE ([\w.-]+)/.exec(text);
  if (!text.includes('tool_result') && asked) {
    return { type: 'tool_use', name: 'Write', input: { file_path: asked[1], content: `written for ${asked[1]}\n` } };
  }
  return { type: 'text', text: 'Done.' };
}

describe('jobs on a GitHub repository (real agent, real git over HTTP)', () => {
  let gitServer: GitServer;
  let fake: FakeAnthropic;
  let worker: WorkerHandle;
  let pullsApi: FakePullsApi;

  before(async () => {
    gitServer = await startGitServer({ token: GIT_TOKEN });
    pullsApi = await startFakePullsApi({ token: GIT_TOKEN });
    fake = await startFakeAnthropic(writeWhatIsAsked);
    worker = await startWorker({
      env: {
        ANTHROPIC_BASE_URL: fake.url,
        GIT_ALLOWED_URL_PREFIXES: `${gitServer.url}/`,
        GIT_AUTHOR_NAME: 'Worker Bot',
        GIT_AUTHOR_EMAIL: 'bot@example.com',
        GITHUB_API_URL: pullsApi.url,
      },
    });
  });

  after(async () => {
    await worker.dispose();
    await fake.close();
    await gitServer.close();
    await pullsApi.close();
  });

  const githubRequest = (repoUrl: string, prompt: string, extra: Record<string, unknown> = {}) =>
    claudeRequest(prompt, { github: { repoUrl, accessToken: GIT_TOKEN }, ...extra });

  it('clones, runs the agent, commits on a new session branch and pushes it; resume commits on the same branch', async () => {
    const repo = await gitServer.createRepo('acme/widgets', { 'README.md': '# widgets\n' });
    const res = await postExecute(worker.url, githubRequest(repo.url, 'Please WRITE feature.txt', { websiteSessionId: 'gh-1' }));
    const events = await res.events();
    const types = events.map((event) => event.data.type);
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'completed', JSON.stringify(last));

    assert.ok(types.indexOf('github_pull_progress') > 0 && types.indexOf('github_pull_progress') < types.indexOf('assistant_message'));
    const branchEvent = events.find((event) => event.data.type === 'branch_created')!.data;
    const branch = String(branchEvent.branchName);
    assert.match(branch, /^claude\/[a-z0-9-]+-[0-9a-z]+$/);
    assert.equal(branchEvent.baseBranch, 'main');
    assert.ok(types.includes('session_name'));

    const stages = events.filter((event) => event.data.type === 'commit_progress').map((event) => event.data.stage);
    assert.deepEqual(
      stages.filter((stage) => ['analyzing', 'committing', 'committed', 'pushing', 'pushed', 'completed'].includes(String(stage))),
      ['analyzing', 'committing', 'committed', 'pushing', 'pushed', 'completed'],
    );
    assert.ok(types.lastIndexOf('commit_progress') < types.indexOf('completed'));
    assert.equal(last.branch, branch);
    assert.match(String(last.commitHash), /^[0-9a-f]{40}$/);

    assert.ok((await listBranches(repo.bareDir)).includes(branch), 'the session branch was pushed');
    const commits = await branchCommits(repo.bareDir, branch);
    assert.equal(commits[0]!.hash, last.commitHash);
    assert.equal(commits[0]!.authorName, 'Worker Bot');
    assert.equal(commits[0]!.authorEmail, 'bot@example.com');
    assert.ok(commits[0]!.subject.length > 0);
    assert.equal(await readFileAt(repo.bareDir, branch, 'feature.txt'), 'written for feature.txt\n');

    const metadata = (await request(`${worker.url}/sessions/gh-1`)).json as Record<string, any>;
    assert.equal(metadata.branch, branch);
    assert.equal(metadata.github.repoUrl, repo.url);
    assert.ok(!JSON.stringify(metadata).includes(GIT_TOKEN));

    const second = await (await postExecute(worker.url, githubRequest(repo.url, 'Now WRITE second.txt', { resumeSessionId: 'gh-1' }))).events();
    const secondLast = second.at(-1)!.data;
    assert.equal(secondLast.type, 'completed', JSON.stringify(secondLast));
    assert.equal(secondLast.branch, branch, 'later turns stay on the session branch');
    assert.ok(!second.some((event) => event.data.type === 'branch_created'));
    const after = await branchCommits(repo.bareDir, branch);
    assert.equal(after.length, commits.length + 1);
    assert.equal(after[0]!.hash, secondLast.commitHash);
    assert.equal(await readFileAt(repo.bareDir, branch, 'feature.txt'), 'written for feature.txt\n');
    assert.equal(await readFileAt(repo.bareDir, branch, 'second.txt'), 'written for second.txt\n');
  });

  it('opens a pull request after the push and updates it on the next turn (recorded-request fake of the GitHub REST API)', async () => {
    const repo = await gitServer.createRepo('acme/gadgets', { 'README.md': '# gadgets\n' });
    const first = await (
      await postExecute(worker.url, githubRequest(repo.url, 'WRITE one.txt', { websiteSessionId: 'gh-pr', pullRequest: { draft: true } }))
    ).events();
    const opened = first.find((event) => event.data.type === 'pull_request')?.data;
    assert.ok(opened, 'a pull_request event');
    assert.equal(opened.action, 'created');
    assert.equal(typeof opened.number, 'number');
    assert.match(String(opened.url), /\/acme\/gadgets\/pull\/\d+$/);
    const branch = String(first.at(-1)!.data.branch);
    const create = pullsApi.requests.find((recorded) => recorded.method === 'POST');
    assert.ok(create, 'the PR was created with POST /repos/{owner}/{repo}/pulls');
    assert.equal(create.path, '/repos/acme/gadgets/pulls');
    assert.equal(create.authorization, `Bearer ${GIT_TOKEN}`);
    assert.deepEqual(
      { head: (create.body as any).head, base: (create.body as any).base, draft: (create.body as any).draft },
      { head: branch, base: 'main', draft: true },
    );

    const second = await (
      await postExecute(worker.url, githubRequest(repo.url, 'WRITE two.txt', { resumeSessionId: 'gh-pr', pullRequest: { title: 'Better title' } }))
    ).events();
    const updated = second.find((event) => event.data.type === 'pull_request')?.data;
    assert.ok(updated);
    assert.equal(updated.action, 'updated');
    assert.equal(updated.number, opened.number);
    assert.ok(pullsApi.requests.some((recorded) => recorded.method === 'PATCH' && recorded.path === `/repos/acme/gadgets/pulls/${opened.number}`));
    assert.equal(pullsApi.requests.filter((recorded) => recorded.method === 'POST').length, 1, 'no second PR');
  });

  it('a rejected push is reported as push_failed and the job still completes', async () => {
    const repo = await gitServer.createRepo('acme/frozen', { 'README.md': '# frozen\n' });
    await rejectPushes(repo.bareDir);
    const events = await (await postExecute(worker.url, githubRequest(repo.url, 'WRITE change.txt'))).events();
    const stages = events.filter((event) => event.data.type === 'commit_progress').map((event) => event.data.stage);
    assert.ok(stages.includes('committed'));
    assert.ok(stages.includes('push_failed'));
    assert.ok(!stages.includes('pushed'));
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'completed');
    assert.match(String(last.commitHash), /^[0-9a-f]{40}$/, 'the commit is kept');
  });

  it('no change → no commit, and the stream says so', async () => {
    const repo = await gitServer.createRepo('acme/quiet', { 'README.md': '# quiet\n' });
    const events = await (await postExecute(worker.url, githubRequest(repo.url, 'Just look around, change nothing'))).events();
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'completed');
    assert.equal(last.commitHash, undefined);
    assert.ok(!events.some((event) => event.data.type === 'commit_progress' && event.data.stage === 'committed'));
    assert.ok(/no change/i.test(JSON.stringify(events.slice(-4).map((event) => event.data))), 'a final event says nothing changed');
  });

  it('a wrong token fails the job with GITHUB_ERROR, names no token, and saves the session', async () => {
    const repo = await gitServer.createRepo('acme/private', { 'README.md': '# private\n' });
    const wrong = 'ghp_WRONG_TOKEN_0000000000aa';
    const res = await postExecute(
      worker.url,
      claudeRequest('WRITE x.txt', { github: { repoUrl: repo.url, accessToken: wrong }, websiteSessionId: 'gh-wrong' }),
    );
    const events = await res.events();
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'error');
    assert.equal(last.code, 'GITHUB_ERROR');
    assert.ok(!JSON.stringify(events).includes(wrong));
    assert.ok(!worker.logs().includes(wrong));
    const metadata = (await request(`${worker.url}/sessions/gh-wrong`)).json as Record<string, any>;
    assert.equal(metadata.status, 'failed');
    assert.equal(metadata.hasArchive, true);
  });

  it('keeps the git token out of .git/config, the workspace, the store, events and logs', async () => {
    const workspaceFiles = await readTree(path.join(worker.dirs.workspace, 'sessions'));
    const configs = [...workspaceFiles.keys()].filter((file) => file.endsWith(`${path.sep}.git${path.sep}config`));
    assert.ok(configs.length > 0, 'there are clones to check');
    for (const [file, text] of workspaceFiles) assert.ok(!text.includes(GIT_TOKEN), `${file} holds the token`);
    const basic = Buffer.from(`x-access-token:${GIT_TOKEN}`).toString('base64');
    for (const file of configs) assert.ok(!(await fs.readFile(file, 'utf8')).includes(basic));
    assert.deepEqual(await findLeakedSecrets(worker, [GIT_TOKEN]), []);
  });
});
