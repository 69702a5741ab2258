/**
 * Issue #12, AGENT_NETWORK=proxy-only, against the real kernel: the rules of
 * src/isolation/egress.ts installed with the machine's iptables for a spare
 * uid, and real clients run as that uid through setpriv (SeparateUser), as
 * the worker runs agents and their git commands.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { chmod, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { runGit } from '../../src/git/git-command.js';
import { createGitEnvironment, pinRemoteAddresses } from '../../src/git/git-env.js';
import { AgentEgress, probeEgressSupport, removeAgentEgressRules } from '../../src/isolation/egress.js';
import { chainName, hookSpec } from '../../src/isolation/egress-rules.js';
import { SeparateUser } from '../../src/isolation/separate-user.js';
import { claimUids } from '../../src/isolation/uid-pool.js';
import { startGitServer, type GitServer } from '../fixtures/git-server.js';
import { listenOnLoopback } from '../fixtures/loopback.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';

const SKIP = whyNotHere();
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EGRESS_MODULE = path.join(REPO_ROOT, 'src/isolation/egress.ts');
const logger = pino({ level: 'silent' });
/** A refused connection must fail this fast, far below any connect timeout. */
const FAST_MS = 1_000;
const REFUSED = ['ECONNREFUSED', 'ECONNRESET', 'EPERM'];

function whyNotHere(): string | false {
  if (process.platform !== 'linux') return 'iptables is Linux only';
  if (process.getuid?.() !== 0) return 'changing iptables rules and switching uids need root';
  const version = spawnSync('iptables', ['--version'], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  if (version.error) return 'iptables is not installed (Debian: apt-get install iptables)';
  return false;
}

/**
 * What one client saw, run as the agent's uid or as root: `reached` with the
 * answer, `error` with its code, or `timeout` after 5 s. Plain CommonJS for `node -e`.
 */
const CLIENT = `
const started = Date.now();
const probe = JSON.parse(process.argv[1]);
const done = (result) => { process.stdout.write(JSON.stringify({ ...result, ms: Date.now() - started })); process.exit(0); };
setTimeout(() => done({ outcome: 'timeout' }), 5000);
const failed = (error) => done({ outcome: 'error', code: error.code });
if (probe.kind === 'http') {
  require('http').get({ host: probe.host, port: probe.port, path: '/' }, (res) => {
    let body = '';
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => done({ outcome: 'reached', body }));
  }).on('error', failed);
} else if (probe.kind === 'udp') {
  const socket = require('dgram').createSocket('udp4');
  socket.on('message', (message) => done({ outcome: 'reached', body: String(message) }));
  socket.on('error', failed);
  socket.connect(probe.port, probe.host, () => socket.send('ping'));
} else if (probe.kind === 'dns') {
  const resolver = new (require('dns').promises.Resolver)({ timeout: 2000, tries: 1 });
  resolver.setServers([probe.server]);
  resolver.resolve4(probe.name).then((found) => done({ outcome: 'reached', body: found.join(',') }), failed);
}
`;

type Probe =
  | { kind: 'http'; host: string; port: number }
  | { kind: 'udp'; host: string; port: number }
  | { kind: 'dns'; server: string; name: string };
interface Seen {
  outcome: 'reached' | 'error' | 'timeout';
  body?: string;
  code?: string;
  ms: number;
}

function probeAs(user: SeparateUser | 'root', probe: Probe): Promise<Seen> {
  const argv = [process.execPath, ['-e', CLIENT, JSON.stringify(probe)]] as const;
  const { command, args } = user === 'root' ? { command: argv[0], args: [...argv[1]] } : user.command(...argv);
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`client failed: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as Seen);
    });
  });
}

function assertReached(seen: Seen, body: string, what: string): void {
  assert.deepEqual({ outcome: seen.outcome, body: seen.body }, { outcome: 'reached', body }, `${what}: ${JSON.stringify(seen)}`);
}

function assertRefusedFast(seen: Seen, what: string): void {
  assert.equal(seen.outcome, 'error', `${what} must be refused: ${JSON.stringify(seen)}`);
  assert.ok(REFUSED.includes(seen.code ?? ''), `${what} is refused, not lost: ${JSON.stringify(seen)}`);
  assert.ok(seen.ms < FAST_MS, `${what} is refused at once (${seen.ms} ms)`);
}

async function iptablesListing(binary: 'iptables' | 'ip6tables'): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['-w', '30', '-S'], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
}

async function iptables(binary: 'iptables' | 'ip6tables', args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['-w', '30', ...args], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }, (error, _stdout, stderr) =>
      error ? reject(new Error(stderr)) : resolve(),
    );
  });
}

/** The lines of both tables that name `uid`'s chain. */
async function chainLines(uid: number): Promise<string[]> {
  const listings = [await iptablesListing('iptables'), await iptablesListing('ip6tables')];
  return listings.flatMap((listing) => listing.split('\n')).filter((line) => line.includes(chainName(uid)));
}

async function startNamedServer(name: string, host: string, port = 0): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((_req, res) => res.end(name));
  if (host === '127.0.0.1' && port === 0) return listenOnLoopback(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Echoes every datagram back. */
async function startUdpEcho(): Promise<{ port: number; close: () => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, peer) => socket.send(message, peer.port, peer.address));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/** A DNS server on loopback that answers every question with A 192.0.2.7. */
async function startFakeDns(): Promise<{ port: number; close: () => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    let end = 12;
    while ((query[end] ?? 0) !== 0) end += (query[end] ?? 0) + 1;
    end += 5; // the name's final zero, QTYPE, QCLASS
    const header = Buffer.from([query[0] ?? 0, query[1] ?? 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
    socket.send(Buffer.concat([header, query.subarray(12, end), answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

describe('AGENT_NETWORK=proxy-only with real iptables (issue #12)', { skip: SKIP }, () => {
  let uid: number;
  let user: SeparateUser;
  let egress: AgentEgress | undefined;
  let temp: TempDir;
  let ipv6 = true;
  const closers: Array<() => Promise<void>> = [];
  /** Plays the model proxy. */
  let proxy: { port: number };
  /** Any other local service: on 127.0.0.1 and, on the same port, 127.0.0.2 (and ::1 when there is IPv6). */
  let other: { port: number };
  let third: { port: number };
  let udp: { port: number };
  let dns: { port: number };

  before(async () => {
    [uid] = (await claimUids({ first: 64900, last: 64999 }, 1)) as [number];
    temp = await makeTempDir('acw-egress');
    await chmod(temp.path, 0o711);
    user = new SeparateUser(uid, path.join(temp.path, 'launchers'), true);
    for (const start of [
      async () => (proxy = await startNamedServer('proxy', '127.0.0.1')),
      async () => (other = await startNamedServer('other', '127.0.0.1')),
      async () => (third = await startNamedServer('third', '127.0.0.1')),
      async () => (udp = await startUdpEcho()),
      async () => (dns = await startFakeDns()),
    ]) closers.push((await start()).close);
    closers.push((await startNamedServer('other-alias', '127.0.0.2', other.port)).close);
    try {
      closers.push((await startNamedServer('other-v6', '::1', other.port)).close);
    } catch {
      ipv6 = false;
    }
  });

  after(async () => {
    // Whatever failed above, no chain of the test's uid stays behind.
    await egress?.close().catch(() => undefined);
    if (uid !== undefined) await removeAgentEgressRules([uid]);
    for (const close of closers.reverse()) await close();
    await temp?.remove();
  });

  it('finds the host able to enforce it, and refuses without uid isolation', async () => {
    assert.deepEqual(await probeEgressSupport(), { ok: true });
    assert.deepEqual(await probeEgressSupport({ mode: 'uid', uids: [uid] }), { ok: true });
    const unisolated = await probeEgressSupport({ mode: 'none', reason: 'AGENT_ISOLATION=off' });
    assert.equal(unisolated.ok, false);
    assert.match(!unisolated.ok ? unisolated.reason : '', /worker's own user \(AGENT_ISOLATION=off\)/);
    assert.ok(!(await iptablesListing('iptables')).includes('ACW-PROBE-'), 'the probe leaves no chain behind');
  });

  it('refuses with a clear message where the worker lacks CAP_NET_ADMIN (a default container)', async () => {
    // Root without NET_ADMIN in its bounding set: what `docker run` gives by default.
    const script =
      `import { probeEgressSupport, AgentNetworkUnavailableError } from ${JSON.stringify(pathToFileURL(EGRESS_MODULE).href)};` +
      'const support = await probeEgressSupport();' +
      'console.log(support.ok ? "ok" : new AgentNetworkUnavailableError(support.reason).message);';
    const message = await new Promise<string>((resolve, reject) =>
      execFile(
        'setpriv',
        ['--bounding-set=-net_admin', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: REPO_ROOT },
        (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout.trim())),
      ),
    );
    assert.match(message, /^AGENT_NETWORK=proxy-only, but the agents' network cannot be restricted here: /);
    assert.match(message, /lacks CAP_NET_ADMIN: .*--cap-add NET_ADMIN.*AGENT_NETWORK=open/);
  });

  it('lets the agent uid reach the proxy port and nothing else on loopback; root reaches both', async () => {
    egress = await AgentEgress.setUp({ uids: [uid], proxyPort: proxy.port, logger });
    const lines = await chainLines(uid);
    assert.equal(lines.filter((line) => line.startsWith('-A OUTPUT ')).length, ipv6 ? 2 : 1, 'one hook per table');

    assertReached(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: proxy.port }), 'proxy', 'the agent → proxy');
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'the agent → another loopback port');
    if (ipv6) assertRefusedFast(await probeAs(user, { kind: 'http', host: '::1', port: other.port }), 'the agent → [::1]');

    assertReached(await probeAs('root', { kind: 'http', host: '127.0.0.1', port: proxy.port }), 'proxy', 'root → proxy');
    assertReached(await probeAs('root', { kind: 'http', host: '127.0.0.1', port: other.port }), 'other', 'root → other');
    assertReached(await probeAs('root', { kind: 'http', host: '127.0.0.2', port: other.port }), 'other-alias', 'root → 127.0.0.2');
    if (ipv6) assertReached(await probeAs('root', { kind: 'http', host: '::1', port: other.port }), 'other-v6', 'root → [::1]');
  });

  it('gives the agent uid no DNS and no UDP at all', async () => {
    const query: Probe = { kind: 'dns', server: `127.0.0.1:${dns.port}`, name: 'exfiltrate.example.test' };
    assertReached(await probeAs('root', query), '192.0.2.7', 'root → DNS');
    const refused = await probeAs(user, query);
    assert.equal(refused.outcome, 'error', `the agent's DNS query fails: ${JSON.stringify(refused)}`);
    assert.ok(refused.ms < FAST_MS, `and fails at once (${refused.ms} ms, ${refused.code})`);

    const echo: Probe = { kind: 'udp', host: '127.0.0.1', port: udp.port };
    assertReached(await probeAs('root', echo), 'ping', 'root → UDP');
    assertRefusedFast(await probeAs(user, echo), 'the agent → UDP');
  });

  it('opens exactly one address and port for a job, and closes it again', async () => {
    const release = await egress!.allowRemote(uid, { address: '127.0.0.1', port: other.port });
    assertReached(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'other', 'the agent → its remote');
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.2', port: other.port }), 'the same port at another address');
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: third.port }), 'another port at the same address');
    if (ipv6) assertRefusedFast(await probeAs(user, { kind: 'http', host: '::1', port: other.port }), 'the same port over IPv6');

    await release();
    await release();
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'the remote after the job');
    assertReached(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: proxy.port }), 'proxy', 'the proxy after the job');
    assert.equal((await chainLines(uid)).filter((line) => line.includes(`--dport ${other.port}`)).length, 0);
  });

  it('opens an IPv6 remote in the IPv6 table', async (t) => {
    if (!ipv6) return t.skip('nothing can listen on ::1 here');
    const release = await egress!.allowResolvedRemote(uid, { host: 'localhost', port: other.port, addresses: ['::1'] });
    assertReached(await probeAs(user, { kind: 'http', host: '::1', port: other.port }), 'other-v6', 'the agent → [::1] remote');
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'the IPv4 address it was not given');
    await release();
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '::1', port: other.port }), 'the IPv6 remote after the job');
  });

  it('puts back rules someone else removed, keeping the running job\'s remote', async () => {
    const release = await egress!.allowRemote(uid, { address: '127.0.0.1', port: other.port });
    // A firewall reload, as far as this uid goes: the hook is gone and the uid is open.
    await iptables('iptables', ['-D', 'OUTPUT', ...hookSpec(uid)]);
    assertReached(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: third.port }), 'third', 'without the hook');

    await egress!.ensureInstalled(uid);
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: third.port }), 'after ensureInstalled');
    assertReached(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'other', 'the remote still open');
    await release();
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'the remote after the job');
  });

  it('replaces what a dead worker left for the uid: one hook, the new rules only', async () => {
    // The first AgentEgress is never closed, like a worker killed with SIGKILL; the next one
    // claims the same uid with another proxy port.
    await egress!.allowRemote(uid, { address: '127.0.0.1', port: third.port });
    egress = await AgentEgress.setUp({ uids: [uid], proxyPort: other.port, logger });
    const lines = await chainLines(uid);
    assert.equal(lines.filter((line) => line.startsWith('-A OUTPUT ')).length, ipv6 ? 2 : 1, lines.join('\n'));
    assertReached(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'other', 'the new proxy port');
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: proxy.port }), 'the old proxy port');
    assertRefusedFast(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: third.port }), 'the dead job\'s remote');
    await egress.close();
    egress = await AgentEgress.setUp({ uids: [uid], proxyPort: proxy.port, logger });
  });

  describe('git as the agent uid, through a pinned address', () => {
    const TOKEN = 'git-egress-token-5e6f7a';
    let server: GitServer;
    let repoUrl: string;
    let home: string;

    before(async () => {
      server = await startGitServer({ token: TOKEN });
      await server.createRepo('acme/widgets', { 'README.md': 'hello\n' });
      // A made-up name, mapped to the server by git alone: nobody can resolve it, the agent least of all.
      repoUrl = `http://git.example.test:${new URL(server.url).port}/acme/widgets.git`;
      home = path.join(temp.path, 'home');
      await mkdir(home);
      await user.handOver(home);
    });

    after(async () => server?.close());

    const lsRemote = (env: Record<string, string>, args = ['ls-remote', repoUrl], cwd = home) =>
      runGit(args, { cwd, env, runAs: (command, commandArgs) => user.command(command, commandArgs) });

    it('runs git ls-remote with no DNS, and not once the job has ended', async () => {
      const port = Number(new URL(server.url).port);
      const gitEnv = createGitEnvironment({ homeDir: home, repoUrl, accessToken: TOKEN });
      const pinned = pinRemoteAddresses(gitEnv, repoUrl, ['127.0.0.1']);
      const release = await egress!.allowResolvedRemote(uid, { host: 'git.example.test', port, addresses: ['127.0.0.1'] });

      const listed = await lsRemote(pinned.network);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /\trefs\/heads\/main\n/);
      assert.ok(server.requests.some((request) => request.authorized), 'the token reached the remote');

      const unpinned = await lsRemote(gitEnv.network);
      assert.notEqual(unpinned.code, 0);
      assert.match(unpinned.stderr, /Could not resolve host: git\.example\.test/);

      // The agent's own pins in .git/config (to an address it may not reach), generic and as
      // specific as the remote's URL, do not take over.
      const repo = path.join(home, 'repo');
      const elsewhere = `git.example.test:${port}:127.0.0.2`;
      for (const args of [
        ['init', '-q', repo],
        ['-C', repo, 'remote', 'add', 'origin', repoUrl],
        ['-C', repo, 'config', 'http.curloptResolve', elsewhere],
        ['-C', repo, 'config', `http.${repoUrl}.curloptResolve`, elsewhere],
      ]) assert.equal((await lsRemote(gitEnv.local, args)).code, 0);
      const fromRepo = await lsRemote(pinned.network, ['ls-remote', 'origin'], repo);
      assert.equal(fromRepo.code, 0, fromRepo.stderr);

      await release();
      const afterJob = await lsRemote(pinned.network);
      assert.notEqual(afterJob.code, 0);
      assert.match(afterJob.stderr, /Failed to connect|Couldn't connect|Connection refused/i);
    });
  });

  it('leaves no chain behind on close', async () => {
    await egress!.close();
    await egress!.close();
    assert.deepEqual(await chainLines(uid), []);
    assertReached(await probeAs(user, { kind: 'http', host: '127.0.0.1', port: other.port }), 'other', 'the uid is open again');
    await assert.rejects(egress!.allowRemote(uid, { address: '127.0.0.1', port: other.port }), /removed/);
  });
});
