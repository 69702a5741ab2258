/**
 * Deployment test (issue #11): the image, docker-compose.yml, docker-compose.distributed.yml
 * and swarm.yml on a real Docker engine, with real jobs against the fake model.
 * `npm run test:deploy`; needs a running Docker engine, docker-compose (v1 or v2 as
 * `docker-compose`), debootstrap and root (README "Deployment"). Installs nothing.
 * Everything it starts is removed at the end (images are kept, so a second run is quick),
 * and it leaves the swarm only if it created it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { OAUTH_CREDENTIALS } from '../jobs/helpers.js';
import { postExecute, type SseEvent } from '../fixtures/sse.js';
import {
  AGENT_UID_RANGE,
  composeProject,
  docker,
  dockerQuiet,
  freePort,
  getJson as getJsonWithDeadline,
  httpGetInContainer,
  inspect,
  LOG_DIR,
  poll,
  Timings,
  type ComposeProject,
} from './docker-cli.js';
import { buildImages, type Images } from './images.js';
import { startContainerModel, toolOutput, type ContainerModel } from './model.js';
import { removeStack, swarmStack, type SwarmStack } from './swarm.js';

const timings = new Timings();
const TOKEN = randomBytes(32).toString('hex');
/** The compose files' stop_grace_period: what `docker stop -t` gets here. */
const STOP_TIMEOUT_S = 45;
const PROJECTS = { standalone: 'acwdeploy-standalone', distributed: 'acwdeploy-distributed' };
const HARDENED_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID'];

let images: Images;
let model: ContainerModel;

const secret = () => randomBytes(16).toString('hex');

/** DEPLOY_ONLY=standalone,distributed,swarm runs only those parts (default: all). */
const only = process.env.DEPLOY_ONLY?.split(',');
const skip = (part: string) => (only && !only.includes(part) ? `DEPLOY_ONLY=${only.join(',')}` : false);

function job(prompt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { userRequest: prompt, codingAssistantProvider: 'ClaudeAgentSDK', codingAssistantAuthentication: OAUTH_CREDENTIALS, ...extra };
}

/** POST /execute and read the stream to its end. */
async function runJob(url: string, prompt: string, extra: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<SseEvent[]> {
  const res = await postExecute(url, job(prompt, extra), {}, { token: TOKEN });
  assert.equal(res.status, 200, res.text);
  return res.events({ timeoutMs });
}

function finalEvent(events: SseEvent[]): SseEvent['data'] {
  return events.at(-1)!.data;
}

async function getJson(url: string): Promise<{ status: number; json: any }> {
  return getJsonWithDeadline(url, TOKEN);
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  await poll(`${url}/ready`, async () => (await getJson(`${url}/ready`)).status === 200, timeoutMs);
}

/** The hardening of README "Isolation", as Docker applied it to a container. */
async function assertHardened(container: string, { noNewPrivileges }: { noNewPrivileges: boolean }): Promise<void> {
  const { HostConfig } = await inspect(container);
  assert.equal(HostConfig.ReadonlyRootfs, true, 'read-only root file system');
  assert.deepEqual(HostConfig.CapDrop, ['ALL']);
  assert.deepEqual([...HostConfig.CapAdd].map((cap: string) => (cap.startsWith('CAP_') ? cap : `CAP_${cap}`)).sort(), HARDENED_CAPS);
  if (noNewPrivileges) assert.ok(HostConfig.SecurityOpt?.some((opt: string) => opt.startsWith('no-new-privileges')), 'no-new-privileges');
}

/** Removes what an interrupted earlier run may have left. */
async function removeLeftovers(): Promise<void> {
  for (const project of Object.values(PROJECTS)) {
    const files = project === PROJECTS.standalone ? ['docker-compose.yml'] : ['docker-compose.distributed.yml'];
    await composeProject(project, files, placeholderEnv()).down({ saveLogs: false });
  }
  await removeStack({ saveLogs: false });
  await fs.rm(LOG_DIR, { recursive: true, force: true });
}

/** Values for the `${VAR:?}` variables, enough for `docker-compose down`. */
function placeholderEnv(): Record<string, string> {
  return { MINIO_ROOT_PASSWORD: 'x', MINIO_WORKER_SECRET_KEY: 'x', REDIS_PASSWORD: 'x', JOB_ENCRYPTION_KEY: 'x', WORKER_API_TOKEN: 'x' };
}

before(
  async () => {
    const engine = await dockerQuiet(['info', '--format', '{{.ServerVersion}}']);
    assert.equal(engine.code, 0, `no Docker engine answers (start dockerd; see README "Deployment"):\n${engine.stderr}`);
    await timings.measure('leftovers of earlier runs', removeLeftovers);
    images = await buildImages(timings);
    model = await startContainerModel();
  },
  { timeout: 20 * 60_000 },
);

after(async () => {
  await model?.close();
  console.log(`${timings.report()}\ncontainer logs: ${LOG_DIR}`);
});

describe('standalone worker with MinIO (docker-compose.yml)', { skip: skip('standalone') }, () => {
  let project: ComposeProject;
  let url: string;
  let worker: string;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    project = composeProject(PROJECTS.standalone, ['docker-compose.yml'], {
      WORKER_IMAGE: images.worker,
      S3_IMAGE: images.s3,
      MC_IMAGE: images.mc,
      MINIO_ROOT_PASSWORD: secret(),
      MINIO_WORKER_SECRET_KEY: secret(),
      WORKER_API_TOKEN: TOKEN,
      WORKER_PORT: String(port),
      ANTHROPIC_BASE_URL: model.url,
      AGENT_UID_RANGE,
      // Short, so that the stop below aborts the job quickly; docker stop gets the file's 45 s.
      SHUTDOWN_GRACE_MS: '3000',
    });
    await timings.measure('compose standalone: up → ready', async () => {
      await project.run(['up', '-d', '--no-build']);
      await waitReady(url, 60_000);
    });
    const [id] = await project.containers('worker');
    assert.ok(id, 'a worker container');
    worker = id;
  });

  after(async () => {
    await timings.measure('compose standalone: down -v', () => project?.down());
  });

  it('(1) runs a real job in the hardened container, its agent under a uid of its own', async () => {
    await assertHardened(worker, { noNewPrivileges: true });
    const health = await getJson(`${url}/health`);
    assert.equal(health.json.isolation.mode, 'uid');

    const marker = `standalone-${secret()}`;
    const events = await timings.measure('compose standalone: one job', () =>
      runJob(url, `${marker} RUN[id -u; grep NoNewPrivs /proc/self/status; echo made-in-a-container > proof.txt]END`),
    );
    assert.equal(finalEvent(events).type, 'completed', JSON.stringify(finalEvent(events)));
    const output = toolOutput(model.fake, marker) ?? '';
    assert.match(output, /^63\d{3}$/m, `the agent ran under a uid of AGENT_UID_RANGE: ${output}`);
    assert.match(output, /NoNewPrivs:\s+1/);

    const sessionId = events[0]!.data.sessionId as string;
    const stored = await getJson(`${url}/sessions/${sessionId}`);
    assert.equal(stored.status, 200);
    assert.deepEqual([stored.json.status, stored.json.hasArchive, stored.json.lastEventId], ['completed', true, events.at(-1)!.id]);
  });

  it('(2) docker stop mid-job: the job is aborted after SHUTDOWN_GRACE_MS, its session saved and its final event sent', async () => {
    const marker = `stop-${secret()}`;
    const res = await postExecute(url, job(`${marker} RUN[echo written-before-the-stop > stop.txt]END HOLD[600000]`), {}, { token: TOKEN });
    assert.equal(res.status, 200, res.text);
    const reading = res.events({ timeoutMs: 120_000 });
    // The tool ran and the model holds its next reply: the job is mid-turn.
    await poll('the tool call', async () => toolOutput(model.fake, marker) !== undefined, 60_000);

    const started = performance.now();
    await docker(['stop', '-t', String(STOP_TIMEOUT_S), worker]);
    const stopMs = performance.now() - started;
    timings.record('compose standalone: docker stop mid-job (grace 3 s)', stopMs);
    const events = await reading;
    const { State } = await inspect(worker);
    assert.equal(State.ExitCode, 0, 'the worker exited by itself, not killed');
    assert.ok(stopMs < STOP_TIMEOUT_S * 1000, `stopped in ${stopMs} ms`);
    assert.equal(finalEvent(events).type, 'error');
    assert.equal(finalEvent(events).code, 'ABORTED');

    await timings.measure('compose standalone: start again → ready', async () => {
      await docker(['start', worker]);
      await waitReady(url, 60_000);
    });
    const sessionId = events[0]!.data.sessionId as string;
    const stored = await getJson(`${url}/sessions/${sessionId}`);
    assert.deepEqual([stored.json.status, stored.json.hasArchive, stored.json.lastEventId], ['aborted', true, events.at(-1)!.id]);
    const resumed = `resume-${secret()}`;
    const again = await runJob(url, `${resumed} RUN[cat stop.txt]END`, { resumeSessionId: sessionId });
    assert.equal(finalEvent(again).type, 'completed');
    assert.match(toolOutput(model.fake, resumed) ?? '', /written-before-the-stop/);
  });
});

describe('gateway and two queue workers (docker-compose.distributed.yml)', { skip: skip('distributed') }, () => {
  let project: ComposeProject;
  let url: string;
  let redisPassword: string;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    redisPassword = secret();
    project = composeProject(PROJECTS.distributed, ['docker-compose.distributed.yml'], {
      WORKER_IMAGE: images.worker,
      S3_IMAGE: images.s3,
      MC_IMAGE: images.mc,
      REDIS_IMAGE: images.redis,
      MINIO_ROOT_PASSWORD: secret(),
      MINIO_WORKER_SECRET_KEY: secret(),
      REDIS_PASSWORD: redisPassword,
      JOB_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      WORKER_API_TOKEN: TOKEN,
      GATEWAY_PORT: String(port),
      ANTHROPIC_BASE_URL: model.url,
      AGENT_UID_RANGE,
    });
    await timings.measure('compose distributed: up → 2 workers ready', async () => {
      await project.run(['up', '-d', '--no-build']);
      await waitReady(url, 60_000);
      await poll('two queue workers', async () => (await getJson(`${url}/health`)).json.queue?.workers === 2, 60_000);
    });
  });

  after(async () => {
    await timings.measure('compose distributed: down -v', () => project?.down());
  });

  it('runs two jobs at once through the gateway, one on each worker; Redis fsyncs every write', async () => {
    const workers = await project.containers('worker');
    assert.equal(workers.length, 2);
    for (const worker of workers) await assertHardened(worker, { noNewPrivileges: true });
    const [redis] = await project.containers('redis');
    const fsync = await docker(['exec', redis!, 'redis-cli', '--no-auth-warning', '-a', redisPassword, 'config', 'get', 'appendfsync']);
    assert.match(fsync, /always/);

    const markers = [`queue-a-${secret()}`, `queue-b-${secret()}`];
    const all = await timings.measure('compose distributed: two jobs at once', () =>
      Promise.all(markers.map((marker) => runJob(url, `${marker} RUN[hostname]END HOLD[1500]`))),
    );
    for (const events of all) assert.equal(finalEvent(events).type, 'completed', JSON.stringify(finalEvent(events)));
    const hosts = markers.map((marker) => toolOutput(model.fake, marker)?.trim());
    assert.equal(new Set(hosts).size, 2, `two workers ran them: ${hosts.join(', ')}`);
  });
});

describe('Swarm stack (swarm.yml) on a single-node swarm', { skip: skip('swarm') }, () => {
  let stack: SwarmStack;

  before(async () => {
    stack = await timings.measure('swarm: init, deploy → ready', () => swarmStack(images, model.url, TOKEN));
  });

  after(async () => {
    await timings.measure('swarm: stack rm, volumes, leave', () => removeStack());
  });

  it('workers hold the bucket-scoped key, not MinIO root; every container is hardened', async () => {
    const env = (await stack.serviceEnv('worker')).join('\n');
    assert.match(env, /^MINIO_ACCESS_KEY=ai-coding-worker$/m);
    assert.doesNotMatch(env, /MINIO_ROOT/);
    // The init job created that user in the store (the stand-in keeps its users in /data).
    assert.match(await docker(['exec', await stack.runningContainer('minio'), 'cat', '/data/users.json']), /"ai-coding-worker"/);
    for (const worker of await stack.runningContainers('worker')) await assertHardened(worker, { noNewPrivileges: false });
  });

  it('(3) jobs through the gateway: each worker exits after its job, Swarm starts a fresh one, a session resumes on another worker', async () => {
    const first = `swarm-1-${secret()}`;
    const one = await timings.measure('swarm: job 1', () =>
      runJob(stack.url, `${first} RUN[hostname; grep NoNewPrivs /proc/self/status; echo from-the-first-worker > proof.txt]END`),
    );
    assert.equal(finalEvent(one).type, 'completed', JSON.stringify(finalEvent(one)));
    const output1 = toolOutput(model.fake, first) ?? '';
    // Swarm ignores security_opt, but the worker starts every agent command with no_new_privs.
    assert.match(output1, /NoNewPrivs:\s+1/);
    const host1 = output1.split('\n')[0]!.trim();
    const sessionId = one[0]!.data.sessionId as string;

    await timings.measure('swarm: job 1\'s worker exits 0', () => stack.waitExited(host1));
    const second = `swarm-2-${secret()}`;
    const two = await timings.measure('swarm: job 2 (resume)', () =>
      runJob(stack.url, `${second} RUN[hostname; cat proof.txt]END`, { resumeSessionId: sessionId }),
    );
    assert.equal(finalEvent(two).type, 'completed', JSON.stringify(finalEvent(two)));
    const [host2, proof] = (toolOutput(model.fake, second) ?? '').split('\n').map((line) => line.trim());
    assert.notEqual(host2, host1, 'a fresh worker container ran the resumed job');
    assert.equal(proof, 'from-the-first-worker', 'the workspace came back from the store');

    const parallel = [`swarm-3-${secret()}`, `swarm-4-${secret()}`];
    const both = await timings.measure('swarm: jobs 3 and 4 at once', () =>
      Promise.all(parallel.map((marker) => runJob(stack.url, `${marker} RUN[hostname]END HOLD[1000]`))),
    );
    for (const events of both) assert.equal(finalEvent(events).type, 'completed');
    await poll('four workers exited 0 after their jobs', async () => (await stack.exitedWorkers()).filter((code) => code === 0).length >= 4, 60_000);
  });

  it('(4) the store dies mid-job: the worker stays, not ready, until the session is saved, then exits', async () => {
    await waitReady(stack.url, 60_000);
    const marker = `store-down-${secret()}`;
    const res = await postExecute(stack.url, job(`${marker} RUN[hostname; echo kept-while-the-store-was-down > kept.txt]END HOLD[4000]`), {}, { token: TOKEN });
    assert.equal(res.status, 200, res.text);
    const reading = res.events({ timeoutMs: 120_000 });
    await poll('the tool call', async () => toolOutput(model.fake, marker) !== undefined, 60_000);
    const host = toolOutput(model.fake, marker)!.split('\n')[0]!.trim();

    const down = performance.now();
    await timings.measure('swarm: kill the store', () => stack.killStore());
    const events = await reading;
    assert.equal(finalEvent(events).type, 'error');
    assert.equal(finalEvent(events).code, 'STORAGE_ERROR', JSON.stringify(finalEvent(events)));

    const worker = await stack.containerByHost(host);
    const ready = await httpGetInContainer(worker, '/ready');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /waits to be saved/);
    assert.equal((await inspect(worker)).State.Running, true, 'the worker did not exit with its session unsaved');

    await timings.measure('swarm: store back → worker saved and exited', async () => {
      await stack.startStore();
      await stack.waitExited(host);
    });
    timings.record('swarm: store down → session saved', performance.now() - down);
    const sessionId = events[0]!.data.sessionId as string;
    const stored = await poll('the session in the store', async () => {
      const answer = await getJson(`${stack.url}/sessions/${sessionId}`);
      return answer.status === 200 && answer.json.hasArchive ? answer.json : undefined;
    }, 30_000);
    assert.equal(stored.lastEventId, events.at(-1)!.id);
  });
});
