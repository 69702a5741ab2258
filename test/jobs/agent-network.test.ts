/**
 * Issue #12, AGENT_NETWORK=proxy-only through a real worker: the real `claude`
 * reaches its model only through the worker's proxy, the job's git clone and push
 * reach the remote (pinned, no DNS), and an agent command that tries the model API
 * directly or any other local port is refused at once. The mechanism itself (the
 * iptables rules) is tested in test/jobs/egress.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic, type FakeReply, type ScriptContext } from '../fixtures/fake-anthropic.js';
import { readFileAt, startGitServer, type GitServer } from '../fixtures/git-server.js';
import { postExecute } from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';
import { claudeRequest } from './helpers.js';

const GIT_TOKEN = 'ghp_NETWORKTEST_GIT_TOKEN_1a2b3c4d5e6f';
const SKIP = whyNotHere();

function whyNotHere(): string | false {
  if (process.getuid?.() !== 0) return 'iptables rules and agent uids need root';
  if (spawnSync('iptables', ['--version']).error) return 'iptables is not installed (Debian: apt-get install iptables)';
  return false;
}

/** Tries each `host:port` from inside the agent and prints `<port> <outcome> <ms>`. */
function probeCommand(ports: number[]): string {
  const script = [
    'const net = require("node:net");',
    `const ports = ${JSON.stringify(ports)};`,
    'const out = [];',
    'const next = (i) => {',
    '  if (i === ports.length) { require("fs").writeFileSync("probe.txt", out.join("\\n") + "\\n"); return; }',
    '  const started = Date.now();',
    '  const socket = net.connect(ports[i], "127.0.0.1");',
    '  const done = (outcome) => { out.push(`${ports[i]} ${outcome} ${Date.now() - started}`); socket.destroy(); next(i + 1); };',
    '  socket.setTimeout(5000, () => done("timeout"));',
    '  socket.once("connect", () => done("connected"));',
    '  socket.once("error", (error) => done(error.code));',
    '};',
    'next(0);',
  ].join(' ');
  return `node -e '${script}'`;
}

describe('AGENT_NETWORK=proxy-only through a real worker (issue #12)', { skip: SKIP }, () => {
  let fake: FakeAnthropic;
  let gitServer: GitServer;
  let other: Server;
  let worker: WorkerHandle;
  let probe = '';

  before(async () => {
    other = createServer((_req, res) => res.end('reached'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const script = (ctx: ScriptContext): FakeReply => {
      const text = JSON.stringify(ctx.request.body?.messages ?? []);
      if (text.includes('PROBE') && !text.includes('tool_result')) {
        return { type: 'tool_use', name: 'Bash', input: { command: probe, description: 'probe' } };
      }
      return { type: 'text', text: 'Done.' };
    };
    fake = await startFakeAnthropic(script);
    gitServer = await startGitServer({ token: GIT_TOKEN });
    // A remote by name, not address: git must connect without DNS, to the address the worker resolved.
    worker = await startWorker({
      env: { ANTHROPIC_BASE_URL: fake.url, AGENT_NETWORK: 'proxy-only', GIT_ALLOWED_URL_PREFIXES: `${gitServer.url.replace('127.0.0.1', 'localhost')}/` },
    });
  });

  after(async () => {
    await worker?.dispose();
    await fake?.close();
    await gitServer?.close();
    await new Promise((resolve) => other?.close(resolve));
  });

  it('the model through the proxy and the git remote work; the model API itself and other ports are refused at once', async () => {
    const fakePort = Number(new URL(fake.url).port);
    const otherPort = (other.address() as AddressInfo).port;
    probe = probeCommand([fakePort, otherPort]);
    const repo = await gitServer.createRepo('acme/fenced', { 'README.md': '# fenced\n' });
    const repoUrl = repo.url.replace('127.0.0.1', 'localhost');
    const res = await postExecute(worker.url, claudeRequest('Please PROBE', { github: { repoUrl, accessToken: GIT_TOKEN }, websiteSessionId: 'fenced' }));
    const events = await res.events({ timeoutMs: 90_000 });
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'completed', JSON.stringify(last));
    const pushed = events.some((event) => event.data.type === 'commit_progress' && event.data.stage === 'pushed');
    assert.ok(pushed, 'the job pushed to its remote');

    const lines = (await readFileAt(repo.bareDir, String(last.branch), 'probe.txt')).trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    for (const line of lines) {
      const [port, outcome, ms] = line.split(' ');
      assert.ok(['ECONNREFUSED', 'ECONNRESET', 'EPERM'].includes(outcome!), `port ${port}: ${outcome}`);
      assert.ok(Number(ms) < 1_000, `refused at once, not timed out (${ms} ms)`);
    }
    assert.ok(fake.mainRequests().length >= 2, 'the agent reached its model through the proxy');
  });

  it('a stopped worker takes its agents\' rules down', async () => {
    const uids = ((await (await fetch(`${worker.url}/health`)).json()) as { isolation: { uids: number[] } }).isolation.uids;
    assert.ok(uids.length > 0);
    assert.match(iptablesRules(), new RegExp(`ACW-AGENT-${uids[0]}`), 'the rules are in place while the worker runs');
    await worker.dispose();
    for (const uid of uids) assert.doesNotMatch(iptablesRules(), new RegExp(`ACW-AGENT-${uid}\\b`), `uid ${uid} is open again`);
  });
});

function iptablesRules(): string {
  return spawnSync('iptables', ['-w', '-S'], { encoding: 'utf8' }).stdout;
}
