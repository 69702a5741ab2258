import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { StreamEvent } from '../../src/client/index.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';
import { startRig, waitFor, type Rig } from '../jobs/helpers.js';
import { runCli, startCli, writeClaudeLogin } from './helpers.js';

describe('cli: run and sessions against a real worker', () => {
  let rig: Rig;
  let home: TempDir;
  let env: Record<string, string>;

  before(async () => {
    rig = await startRig(({ index, request }) => {
      const text = JSON.stringify(request.body.messages ?? []);
      if (text.includes('THINK-LONG')) return { type: 'text', text: 'Finally done.', delayMs: 60_000 };
      if (text.includes('FAIL-THE-MODEL')) return { type: 'error', status: 400, message: 'fake model refuses this request' };
      if (text.includes('WRITE-A-FILE') && index === 0) {
        return { type: 'tool_use', name: 'Write', input: { file_path: 'hello.txt', content: 'hello from the agent\n' } };
      }
      return { type: 'text', text: 'All done here.' };
    });
    home = await makeTempDir('cli-home');
    await writeClaudeLogin(home.path);
    env = { HOME: home.path, AI_CODING_WORKER_URL: rig.worker.url };
  });

  after(async () => {
    await rig.close();
    await home.remove();
  });

  it('plain output: the tool call on one line, the agent text, a summary with the session id; exit 0', async () => {
    const result = await runCli(['run', 'WRITE-A-FILE: create hello.txt'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /\x1b\[/, 'no colors or cursor moves when stdout is not a terminal');
    assert.match(result.stdout, /^→ Write hello\.txt$/m);
    assert.match(result.stdout, /^All done here\.$/m);
    assert.match(result.stdout, /^✔ completed$/m);
    const sessionId = /^ {2}session\s+(\S+)$/m.exec(result.stdout)?.[1];
    assert.match(sessionId ?? '', /^[0-9a-f-]{36}$/);
    assert.match(result.stdout, /^ {2}duration\s+\d+\.\d s$/m);

    const show = await runCli(['sessions', 'show', sessionId!], env);
    assert.equal(show.code, 0, show.stderr);
    const details = JSON.parse(show.stdout) as { sessionId: string; status: string };
    assert.equal(details.sessionId, sessionId);
    assert.equal(details.status, 'completed');

    const list = await runCli(['sessions', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${sessionId} +completed `, 'm'));
    const listJson = JSON.parse((await runCli(['sessions', 'list', '--json'], env)).stdout) as { sessions: Array<{ sessionId: string }> };
    assert.ok(listJson.sessions.some((session) => session.sessionId === sessionId));
  });

  it('--json: one {"id","event"} per line, ids increasing, the last one completed', async () => {
    const result = await runCli(['run', '--json', 'Say hello'], env);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as StreamEvent);
    assert.ok(lines.length > 2);
    for (const line of lines) assert.deepEqual(Object.keys(line), ['id', 'event']);
    lines.forEach((line, index) => index > 0 && assert.ok(line.id > lines[index - 1]!.id, 'ids increase'));
    assert.equal(lines[0]!.event.type, 'connected');
    assert.equal(lines.at(-1)!.event.type, 'completed');

    const sessionId = (lines.at(-1)!.event as { sessionId: string }).sessionId;
    const replay = await runCli(['sessions', 'stream', sessionId, '--json'], env);
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(replay.stdout, result.stdout, 'the stored stream is what the run printed');
  });

  it('a failed job: exit 1 and "error PROVIDER_ERROR: …" on stderr', async () => {
    const result = await runCli(['run', 'FAIL-THE-MODEL please'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error PROVIDER_ERROR: /m);
  });

  it('Ctrl-C aborts the job on the worker: exit 130 after the ABORTED event, the session is aborted', async () => {
    const cli = startCli(['run', '--json', 'THINK-LONG about it'], env);
    await cli.waitForStdout('"connected"');
    const sessionId = (JSON.parse(cli.stdout().split('\n')[0]!) as { event: { sessionId: string } }).event.sessionId;
    await waitFor(() => rig.fake.mainRequests().some((recorded) => JSON.stringify(recorded.body).includes('THINK-LONG')) || undefined);
    cli.proc.kill('SIGINT');
    const result = await cli.done;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /aborting the job/);
    const last = JSON.parse(result.stdout.trimEnd().split('\n').at(-1)!) as StreamEvent;
    assert.equal(last.event.type, 'error');
    assert.equal((last.event as { code: string }).code, 'ABORTED');

    const metadata = (await (await fetch(`${rig.worker.url}/sessions/${sessionId}`)).json()) as { status: string };
    assert.equal(metadata.status, 'aborted');
  });

  it('no credentials anywhere: a message naming where it looked, exit 3, no job posted', async () => {
    await using empty = await makeTempDir('cli-empty-home');
    const before = (await (await fetch(`${rig.worker.url}/sessions`)).json()) as { count: number };
    const result = await runCli(['run', 'Say hello'], { HOME: empty.path, AI_CODING_WORKER_URL: rig.worker.url });
    assert.equal(result.code, 3);
    assert.match(result.stderr, /^error NO_CREDENTIALS: no claude credentials found; set one of: ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, .*\.claude\/\.credentials\.json$/m);
    const codex = await runCli(['run', '--provider', 'codex', 'Say hello'], { HOME: empty.path, AI_CODING_WORKER_URL: rig.worker.url });
    assert.equal(codex.code, 3);
    assert.match(codex.stderr, /OPENAI_API_KEY, .*\.codex\/auth\.json/);
    const afterwards = (await (await fetch(`${rig.worker.url}/sessions`)).json()) as { count: number };
    assert.equal(afterwards.count, before.count);
  });

  it('usage errors exit 2; a worker error answer exits 4 with its code', async () => {
    const usage = await runCli(['run', '--provider', 'gemini', 'x'], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^error USAGE: --provider must be claude or codex/m);
    const missing = await runCli(['sessions', 'show', 'no-such-session'], env);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /^error SESSION_NOT_FOUND: /m);
  });

  it('the bin shim runs the built CLI (building dist/ first if missing); sessions delete', async () => {
    const run = await runCli(['run', '--json', 'Say hello again'], env);
    const sessionId = (JSON.parse(run.stdout.trimEnd().split('\n').at(-1)!) as { event: { sessionId: string } }).event.sessionId;
    const deleted = await runCli(['sessions', 'delete', sessionId], env, { bin: true });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `deleted ${sessionId}\n`);
    assert.equal((await fetch(`${rig.worker.url}/sessions/${sessionId}`)).status, 404);
  });
});
