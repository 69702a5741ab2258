/**
 * Issue #8: the agent as an adversary. Real workers, real `claude`, scripted
 * tool calls that try to read the worker's secrets, the store and another
 * running job, and to leave processes behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isProcessAlive, processesOfUser } from '../../src/isolation/processes.js';
import { startFakeAnthropic, type FakeReply, type ScriptContext } from '../fixtures/fake-anthropic.js';
import { postExecute, request } from '../fixtures/sse.js';
import { startWorker, startWorkerExpectingFailure } from '../fixtures/worker.js';
import { claudeRequest, readArchives, sessionWorkspace, startRig, waitFor } from './helpers.js';

const RUNS_AS_ROOT = process.getuid?.() === 0;
const ROOT_ONLY = { skip: RUNS_AS_ROOT ? false : 'switching uids needs root: the unprivileged run covers the fallback' };

/** Secrets only the worker holds, in its own environment. */
const WORKER_SECRETS = {
  WORKER_API_TOKEN: 'wkr-ISOLATION-api-token-7c1d2e3f',
  GITHUB_ACCESS_TOKEN: 'ghp_ISOLATIONworkerToken0123456789abcd',
  CODING_ASSISTANT_AUTHENTICATION: 'sk-ant-api03-ISOLATION-default-credential-55aa',
  MINIO_SECRET_KEY: 'minio-ISOLATION-secret-key-99ff',
};
const TOKEN = WORKER_SECRETS.WORKER_API_TOKEN;
const VICTIM_KEY = 'sk-ant-api03-ISOLATION-VICTIM-KEY-31337';
const VICTIM_MARKER = 'VICTIM-FILE-CONTENT-4b5c6d';

/** The conversation so far, as text: the script decides by what the user asked and what the tools answered. */
function conversation(ctx: ScriptContext): string {
  return JSON.stringify(ctx.request.body?.messages ?? []);
}

function bash(command: string): FakeReply {
  return { type: 'tool_use', name: 'Bash', input: { command, description: 'run it' } };
}

/** A model that runs `command` once, then answers (after `thenDelayMs`). */
function runsOnce(command: string, thenDelayMs = 0): (ctx: ScriptContext) => FakeReply {
  return (ctx) =>
    conversation(ctx).includes('tool_result') ? { type: 'text', text: 'Done.', delayMs: thenDelayMs } : bash(command);
}

/** A daemon that leaves the job's process tree: double fork, new session, cleared environment. */
const ESCAPING_DAEMON = '(env -i setsid sleep 3000 > /dev/null 2>&1 &) ; id -u > uid.txt';

/** The uid the agent wrote into its workspace (waiting out the moment the shell has created the file but not written it). */
async function agentUid(workspace: string): Promise<number> {
  const text = await waitFor(async () => {
    const written = (await fs.readFile(path.join(workspace, 'uid.txt'), 'utf8').catch(() => '')).trim();
    return /^\d+$/.test(written) ? written : undefined;
  });
  return Number(text);
}

async function sleepers(): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    const cmdline = await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === 'sleep\u00003000\u0000' && (await isProcessAlive(Number(name)))) pids.push(Number(name));
  }
  return pids;
}


describe('job isolation (issue #8)', () => {
  it('an agent cannot read the worker\'s secrets, the store, or another running job', ROOT_ONLY, async () => {
    const script = (ctx: ScriptContext): FakeReply => {
      const text = conversation(ctx);
      if (text.includes('victim task')) {
        // Leaves a file of its own, then keeps the job running while the other agent probes.
        return text.includes('tool_result')
          ? { type: 'text', text: 'Done.', delayMs: 60_000 }
          : bash(`echo ${VICTIM_MARKER} > secret.txt && id -u > uid.txt`);
      }
      return runsOnce(probe)(ctx);
    };
    // Filled in below, once the worker's folders are known.
    let probe = '';
    const rig = await startRig(script, { MAX_CONCURRENT_JOBS: '2', ...WORKER_SECRETS });
    try {
      const { workspace, sessions } = rig.worker.dirs;
      probe = [
        'exec > loot.txt 2>&1',
        'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"',
        'grep -E "^(CapEff|CapPrm|NoNewPrivs)" /proc/self/status',
        'echo "== env"; env',
        'echo "== environ"; for f in /proc/[0-9]*/environ; do echo "-- $f"; tr "\\0" "\\n" < "$f"; done',
        `echo "== store"; ls -laR ${sessions}`,
        `echo "== workspaces"; ls -la ${workspace} ${workspace}/sessions ${workspace}/homes`,
        `echo "== victim"; ls -la ${workspace}/sessions/victim/workspace; cat ${workspace}/sessions/victim/workspace/secret.txt`,
        `echo "== dotenv"; cat ${path.resolve('.env')}`,
        'id -u > uid.txt; true',
      ].join('\n');

      const victim = await postExecute(
        rig.worker.url,
        claudeRequest('victim task', { websiteSessionId: 'victim', codingAssistantAuthentication: VICTIM_KEY }),
        {},
        { token: TOKEN },
      );
      assert.equal(victim.status, 200);
      const victimReading = victim.events({ timeoutMs: 90_000 });
      const victimUid = await agentUid(sessionWorkspace(rig.worker, 'victim'));

      const attacker = await postExecute(rig.worker.url, claudeRequest('attacker task', { websiteSessionId: 'attacker' }), {}, { token: TOKEN });
      assert.equal(attacker.status, 200);
      const attackerEvents = await attacker.events({ timeoutMs: 60_000 });
      assert.equal(attackerEvents.at(-1)!.data.type, 'completed', JSON.stringify(attackerEvents.at(-1)));

      const archives = await readArchives(sessions);
      const loot = [...archives].find(([name]) => name.includes('attacker') && name.endsWith('loot.txt'))?.[1];
      assert.ok(loot, `the probe's output was archived with the session: ${[...archives.keys()].join(', ')}`);
      const attackerUid = Number(/^uid=(\d+)/m.exec(loot)?.[1]);

      assert.notEqual(attackerUid, 0, 'the agent is not root');
      assert.notEqual(attackerUid, process.getuid!(), "the agent is not the worker's user");
      assert.notEqual(attackerUid, victimUid, 'two running jobs never share a uid');
      assert.match(loot, /groups=(\d+)$/m);
      assert.equal(/groups=(\d+)$/m.exec(loot)?.[1], String(attackerUid), 'no supplementary groups');
      assert.match(loot, /^CapEff:\s+0+$/m, 'no effective capabilities');
      assert.match(loot, /^CapPrm:\s+0+$/m, 'no permitted capabilities');
      assert.match(loot, /^NoNewPrivs:\s+1$/m, 'no_new_privs is set');
      for (const [name, secret] of Object.entries(WORKER_SECRETS)) {
        assert.ok(!loot.includes(secret), `the agent read the worker's ${name}`);
      }
      assert.ok(!loot.includes(VICTIM_KEY), "the agent read the other job's credential");
      assert.ok(!loot.includes(VICTIM_MARKER), "the agent read the other job's workspace");
      const section = (name: string) => loot.split(`== ${name}`)[1]?.split('\n== ')[0] ?? '';
      assert.match(section('store'), /Permission denied/, 'the store is closed to the agent');
      assert.doesNotMatch(section('store'), /metadata\.json|archive/, 'nothing of the store is listed');
      assert.doesNotMatch(section('workspaces'), /victim/, 'other sessions cannot be listed');
      assert.match(section('victim'), /Permission denied/, "the other job's workspace is closed");
      for (const [file, text] of archives) {
        for (const secret of [...Object.values(WORKER_SECRETS), VICTIM_KEY]) {
          assert.ok(!text.includes(secret), `${file} holds a secret`);
        }
        if (file.includes('attacker')) assert.ok(!text.includes(VICTIM_MARKER), `${file} holds the victim's file`);
      }

      const aborted = await request(`${rig.worker.url}/sessions/victim/abort`, { method: 'POST', token: TOKEN });
      assert.equal(aborted.status, 200);
      assert.equal((await victimReading).at(-1)!.data.code, 'ABORTED');
    } finally {
      await rig.close();
    }
  });

  it('nothing a job started outlives it: job end, abort and SIGTERM', ROOT_ONLY, async () => {
    const rig = await startRig((ctx) => {
      const text = conversation(ctx);
      return runsOnce(ESCAPING_DAEMON, text.includes('hold on') ? 60_000 : 0)(ctx);
    }, { SHUTDOWN_GRACE_MS: '500' });
    try {
      const before = await sleepers();
      // Job end: the agent finishes, its daemon must not keep running.
      const done = await postExecute(rig.worker.url, claudeRequest('finish', { websiteSessionId: 'ends' }));
      assert.equal((await done.events()).at(-1)!.data.type, 'completed');
      const uid = await agentUid(sessionWorkspace(rig.worker, 'ends'));
      assert.deepEqual(processesOfUser(uid), [], 'no process of the job uid after the job ended');
      assert.deepEqual((await sleepers()).filter((pid) => !before.includes(pid)), []);

      const newSleepers = async () => (await sleepers()).filter((pid) => !before.includes(pid));
      /** A job whose daemon runs while the model "thinks"; once the daemon is up, gives its stream (still open). */
      const holdingJob = async (sessionId: string) => {
        const res = await postExecute(rig.worker.url, claudeRequest('hold on', { websiteSessionId: sessionId }));
        const reading = res.events({ timeoutMs: 60_000 });
        assert.equal(await agentUid(sessionWorkspace(rig.worker, sessionId)), uid, 'the slot keeps its uid');
        await waitFor(async () => ((await newSleepers()).length > 0 ? true : undefined));
        return { reading };
      };

      const aborted = (await holdingJob('aborted')).reading;
      assert.equal((await request(`${rig.worker.url}/sessions/aborted/abort`, { method: 'POST' })).status, 200);
      assert.equal((await aborted).at(-1)!.data.code, 'ABORTED');
      assert.deepEqual(processesOfUser(uid), [], 'no process of the job uid after abort');
      assert.deepEqual(await newSleepers(), []);

      // SIGTERM: the grace period runs out, the job is aborted and saved, the daemon dies with it.
      const terminated = (await holdingJob('terminated')).reading;
      assert.equal((await rig.worker.stop('SIGTERM')).code, 0);
      assert.equal((await terminated).at(-1)!.data.code, 'ABORTED');
      assert.deepEqual(processesOfUser(uid), [], 'no process of the job uid after SIGTERM');
      assert.deepEqual(await newSleepers(), []);
    } finally {
      await rig.close();
    }
  });

  it('a worker killed with SIGKILL and left a zombie: the next start-up stops its agents and removes its homes', ROOT_ONLY, async () => {
    const fake = await startFakeAnthropic(runsOnce(ESCAPING_DAEMON, 60_000));
    const env = { ANTHROPIC_BASE_URL: fake.url, AGENT_UID_RANGE: '61900-61900' };
    // The worker's parent never reaps it: once killed, it stays a zombie.
    const first = await startWorker({ env, launcher: ['sh', '-c', '"$@" & exec sleep 600', 'sh'] });
    const { workspace, sessions } = first.dirs;
    // The fixture's handle is the non-reaping parent; the worker itself must not outlive a failed test.
    const workerPid = (await first.waitForLog((record) => record.msg === 'worker listening')).pid as number;
    try {
      const before = await sleepers();
      const res = await postExecute(first.url, claudeRequest('hold on', { websiteSessionId: 'orphaned' }));
      void res.events({ timeoutMs: 60_000 }).catch(() => {});
      assert.equal(await agentUid(sessionWorkspace(first, 'orphaned')), 61900);
      await waitFor(async () => ((await sleepers()).length > before.length ? true : undefined));
      const homes = await fs.readdir(path.join(workspace, 'homes'));
      assert.equal(homes.length, 1, 'the job has a private home');

      process.kill(workerPid, 'SIGKILL');
      await waitFor(async () => ((await isProcessAlive(workerPid)) ? undefined : true));
      assert.ok((await fs.readFile(`/proc/${workerPid}/stat`, 'utf8')).includes(') Z'), 'the killed worker is a zombie');
      assert.ok((processesOfUser(61900)).length > 0, "the dead worker's agent still runs");

      const second = await startWorker({ env, dirs: { workspace, sessions } });
      try {
        assert.deepEqual(processesOfUser(61900), [], 'start-up stopped every process of the uid');
        assert.deepEqual((await sleepers()).filter((pid) => !before.includes(pid)), []);
        assert.deepEqual(await fs.readdir(path.join(workspace, 'homes')), [], "the dead worker's home is gone");
      } finally {
        await second.dispose();
      }
    } finally {
      try {
        process.kill(workerPid, 'SIGKILL');
      } catch {
        // Already killed by the test.
      }
      await first.dispose();
      await fake.close();
    }
  });

  it('runs with exactly the documented capabilities, restores a session with the agent as owner, and /health says so', ROOT_ONLY, async () => {
    const capabilities = '-all,+chown,+dac_override,+kill,+setuid,+setgid';
    const fake = await startFakeAnthropic(runsOnce('cat notes.txt 2>/dev/null || echo first > notes.txt; id -u > uid.txt'));
    const worker = await startWorker({
      env: { ANTHROPIC_BASE_URL: fake.url, AGENT_ISOLATION: 'required' },
      // As `docker run --cap-drop ALL --cap-add … --security-opt no-new-privileges` starts it.
      launcher: ['setpriv', '--no-new-privs', `--bounding-set=${capabilities}`, '--inh-caps=-all', '--'],
    });
    try {
      const health = (await request(`${worker.url}/health`)).json as { isolation: { mode: string; uids: number[] } };
      assert.equal(health.isolation.mode, 'uid');
      assert.equal(health.isolation.uids.length, 1);
      const status = await fs.readFile(`/proc/${(await worker.waitForLog((r) => r.msg === 'worker listening')).pid}/status`, 'utf8');
      assert.match(status, /^CapEff:\s+00000000000000e3$/m, 'the worker holds exactly the five capabilities');
      assert.match(status, /^NoNewPrivs:\s+1$/m);

      const first = await postExecute(worker.url, claudeRequest('write notes', { websiteSessionId: 'owned' }));
      assert.equal((await first.events()).at(-1)!.data.type, 'completed');
      const workspace = sessionWorkspace(worker, 'owned');
      const uid = await agentUid(workspace);
      assert.equal(uid, health.isolation.uids[0]);
      assert.equal((await fs.stat(workspace)).mode & 0o777, 0o700);
      assert.equal((await fs.stat(path.dirname(workspace))).mode & 0o777, 0o700, 'an idle session folder is closed');

      // As on another worker: the local copy is gone and comes back from the store's archive.
      await fs.rm(path.dirname(workspace), { recursive: true, force: true });
      const second = await postExecute(worker.url, claudeRequest('write notes', { resumeSessionId: 'owned' }));
      assert.equal((await second.events()).at(-1)!.data.type, 'completed');
      for (const file of ['notes.txt', 'uid.txt', '.']) {
        assert.equal((await fs.lstat(path.join(workspace, file))).uid, uid, `${file} belongs to the agent after the restore`);
      }
    } finally {
      await worker.dispose();
      await fake.close();
    }
  });

  it('without the capabilities: auto runs jobs as the worker user with a warning, required refuses to start', ROOT_ONLY, async () => {
    const noSetuid = ['setpriv', '--bounding-set=-setuid,-setgid', '--inh-caps=-all', '--'];
    const refused = await startWorkerExpectingFailure({ AGENT_ISOLATION: 'required' }, undefined, noSetuid);
    assert.equal(refused.code, 78);
    assert.match(refused.output, /AGENT_ISOLATION=required.*CAP_SETGID, CAP_SETUID/);

    const worker = await startWorker({ env: { AGENT_ISOLATION: 'auto' }, launcher: noSetuid });
    try {
      const warning = await worker.waitForLog((record) => /worker's own user/.test(record.msg ?? ''));
      assert.match(String(warning.reason), /CAP_SETUID/);
      const health = (await request(`${worker.url}/health`)).json as { isolation: { mode: string; reason: string } };
      assert.equal(health.isolation.mode, 'none');
      assert.match(health.isolation.reason, /CAP_SETUID/);
    } finally {
      await worker.dispose();
    }
  });

  it('AGENT_ISOLATION=off runs agents as the worker user and says so in /health', async () => {
    const worker = await startWorker({ env: { AGENT_ISOLATION: 'off' } });
    try {
      const health = (await request(`${worker.url}/health`)).json as { isolation: { mode: string; reason: string } };
      assert.deepEqual(health.isolation, { mode: 'none', reason: 'AGENT_ISOLATION=off' });
    } finally {
      await worker.dispose();
    }
  });
});
