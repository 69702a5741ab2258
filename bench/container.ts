/**
 * Issue #11 benchmark: the worker in its container against the same worker on the host.
 * Measured in one run:
 *   - the size of every worker image present locally, by the agents it holds
 *     (PROVIDERS=claude, codex or both), against the base image it was built on;
 *   - a container run with README "Deployment"'s hardening, from `docker run -d` to the
 *     first 200 from /health and to Docker's `healthy`, against `node dist/main.js` on the
 *     host to its first 200 (baseline), alternating;
 *   - the same job (the fake model asks for one Bash tool call, then answers) through
 *     POST /execute in that container and through the host's worker, alternating.
 * Needs a Docker engine, the deployment test's worker image (`npm run test:deploy` builds
 * it; BENCH_IMAGE names another) and dist/ (`node scripts/build.mjs`).
 *
 * The containers reach the fake model as in the deployment test, through a relay on the
 * docker0 address. They sit on a bridge network of their own with fixed addresses, so
 * /health is polled from the moment `docker run` returns, without docker-proxy between.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { docker, dockerQuiet, freePort, run } from '../test/deploy/docker-cli.js';
import { WORKER_IMAGE } from '../test/deploy/images.js';
import { startContainerModel, type ContainerModel } from '../test/deploy/model.js';
import { postExecute } from '../test/fixtures/sse.js';
import { fmt, median, startBuiltWorker, table, tempDir, timed } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IMAGE = process.env.BENCH_IMAGE ?? WORKER_IMAGE;
const TOKEN = randomBytes(32).toString('hex');
const API_KEY = 'sk-ant-api03-BENCHMARK-KEY-000000';
/** On everything this benchmark creates, so that a run removes what an interrupted one left. */
const LABEL = 'ai-coding-worker.bench=container';
const NETWORK = 'acw-bench-container';
/**
 * Agent uids apart from the test suite's (61000-) and the deployment test's (63000-), and
 * apart from each other: an agent's kill(-1) reaches every process of its uid, in
 * containers too (PID namespaces nest under the host's).
 */
const HOST_UIDS = '64000-64499';
const CONTAINER_UIDS = '64500-64999';
/** README "Deployment": the five capabilities, no-new-privileges, read-only root, tmpfs /tmp, volumes. */
const HARDENING = [
  '--cap-drop', 'ALL',
  ...['CHOWN', 'DAC_OVERRIDE', 'KILL', 'SETUID', 'SETGID'].flatMap((cap) => ['--cap-add', cap]),
  '--security-opt', 'no-new-privileges',
  '--read-only', '--tmpfs', '/tmp',
  '-v', '/workspace', '-v', '/data/sessions',
];
/** test/deploy/model.ts's script: one Bash tool call, then "Done.". */
const JOB = { userRequest: 'bench RUN[echo benchmark > bench.txt]END', codingAssistantProvider: 'claude', codingAssistantAuthentication: API_KEY };

interface ImageInfo {
  Id: string;
  RepoTags: string[];
  Size: number;
  RootFS: { Layers?: string[] };
}

const mb = (bytes: number) => `${fmt(bytes / 1e6, 0)} MB`;
const span = (values: number[], digits = 0) =>
  `${fmt(median(values), digits)} ms (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;

export async function benchContainer(): Promise<string> {
  const loadBefore = os.loadavg();
  const engine = await docker(['version', '--format', '{{.Server.Version}}']);
  const driver = await docker(['info', '--format', '{{.Driver}}']);
  await removeLeftovers();
  const sizes = await imageSizes();
  const containerNode = await docker(['run', '--rm', '--label', LABEL, '--network', 'none', '--entrypoint', 'node', IMAGE, '--version']);

  const root = await tempDir('container');
  // mkdtemp's 0700 would keep the host's agent uids out of their workspaces.
  await fs.chmod(root, 0o711);
  const model = await startContainerModel();
  const network = await createNetwork();
  try {
    const starts = await compareStarts(root, model, network);
    const jobs = await compareJobs(root, model, network);
    const loadAfter = os.loadavg();
    return [
      `Docker ${engine} (${driver}), image \`${IMAGE}\` (Node ${containerNode}); host worker \`node dist/main.js\` on Node ${process.version}.`,
      `${os.cpus().length} CPUs; load average (1/5/15 min) ${loadBefore.map((v) => fmt(v, 2)).join(' / ')} before, ${loadAfter.map((v) => fmt(v, 2)).join(' / ')} after.`,
      `Runs: ${RUNS} of each (median (min–max)), after one warm-up of each; host and container alternate.`,
      '',
      sizes,
      '',
      table([
        { measurement: 'host: spawn → first 200 from /health (baseline)', value: span(starts.host), 'ratio to baseline': '1.00' },
        { measurement: 'container: `docker run -d` returns', value: span(starts.returned), 'ratio to baseline': fmt(median(starts.returned) / median(starts.host), 2) },
        { measurement: 'container: `docker run -d` → first 200 from /health', value: span(starts.health), 'ratio to baseline': fmt(median(starts.health) / median(starts.host), 2) },
        { measurement: 'container: `docker run -d` → Docker reports `healthy`', value: span(starts.healthy), 'ratio to baseline': fmt(median(starts.healthy) / median(starts.host), 2) },
        { measurement: 'job wall time, host worker (baseline)', value: span(jobs.host), 'ratio to baseline': '1.00' },
        { measurement: 'job wall time, container', value: span(jobs.container), 'ratio to baseline': fmt(median(jobs.container) / median(jobs.host), 3) },
      ]),
    ].join('\n');
  } finally {
    await removeLeftovers();
    await model.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

/** Every tagged `ai-coding-worker` image, what it holds, and what it adds to its base image. */
async function imageSizes(): Promise<string> {
  const all = await inspectImages((await docker(['image', 'ls', '-q'])).split('\n').filter(Boolean));
  const workers = all.filter((image) => image.RepoTags.some((tag) => tag.startsWith('ai-coding-worker:')));
  const rows: Array<{ variant: string; image: ImageInfo; base?: ImageInfo }> = [];
  for (const image of workers) {
    // The image's ancestor: the image whose layers start this one's, with the most layers.
    const base = all
      .filter((other) => other.Id !== image.Id && isPrefix(other.RootFS.Layers ?? [], image.RootFS.Layers ?? []))
      .sort((a, b) => (b.RootFS.Layers?.length ?? 0) - (a.RootFS.Layers?.length ?? 0))[0];
    rows.push({ variant: await providersOf(image.Id), image, base });
  }
  const order = ['claude', 'codex', 'claude,codex'];
  rows.sort((a, b) => order.indexOf(a.variant) - order.indexOf(b.variant) || a.image.Size - b.image.Size);
  const reference = rows.find((row) => row.image.RepoTags.includes(IMAGE))?.image ?? rows.find((row) => row.variant === 'claude')?.image;
  const bases = [...new Map(rows.flatMap((row) => (row.base ? [[row.base.Id, row.base] as const] : []))).values()];
  return table([
    ...bases.map((base) => ({
      image: base.RepoTags.join(', ') || base.Id.slice(7, 19),
      PROVIDERS: '(base image)',
      size: mb(base.Size),
      'added to the base': '',
      'ratio to PROVIDERS=claude': reference ? fmt(base.Size / reference.Size, 2) : '',
    })),
    ...rows.map(({ variant, image, base }) => ({
      image: image.RepoTags.join(', '),
      PROVIDERS: variant,
      size: mb(image.Size),
      'added to the base': base ? mb(image.Size - base.Size) : '(its base image is gone)',
      'ratio to PROVIDERS=claude': reference ? fmt(image.Size / reference.Size, 2) : '',
    })),
  ]);
}

async function inspectImages(ids: string[]): Promise<ImageInfo[]> {
  const unique = [...new Set(ids)];
  if (!unique.length) return [];
  // Another session may remove an image meanwhile: inspect prints the others and fails.
  const { stdout } = await run('docker', ['image', 'inspect', ...unique], { allowFailure: true });
  const images = JSON.parse(stdout || '[]') as Array<Omit<ImageInfo, 'RepoTags'> & { RepoTags: string[] | null }>;
  return images.map((image) => ({ ...image, RepoTags: image.RepoTags ?? [] }));
}

function isPrefix(prefix: string[], of: string[]): boolean {
  return prefix.length > 0 && prefix.length < of.length && prefix.every((layer, i) => of[i] === layer);
}

/** Which agent binaries docker/prune-node-modules.sh left in the image. */
async function providersOf(image: string): Promise<string> {
  const listing = await docker([
    'run', '--rm', '--label', LABEL, '--network', 'none', '--entrypoint', 'sh', image, '-c',
    'ls -d /app/node_modules/@anthropic-ai/claude-agent-sdk-linux-* /app/node_modules/@openai/codex-linux-* 2>/dev/null; true',
  ]);
  const providers = [listing.includes('claude-agent-sdk-linux') && 'claude', listing.includes('codex-linux') && 'codex'].filter(Boolean);
  return providers.join(',') || 'none';
}

interface Network {
  /** The n-th container's address on the network. */
  address(n: number): string;
}

async function createNetwork(): Promise<Network> {
  // `--ip` needs a subnet given at creation: take the one Docker picks, then ask for it.
  await docker(['network', 'create', '--label', LABEL, NETWORK]);
  const [subnet, gateway] = (await docker(['network', 'inspect', NETWORK, '-f', '{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}'])).split(' ') as [string, string];
  await docker(['network', 'rm', NETWORK]);
  await docker(['network', 'create', '--label', LABEL, '--subnet', subnet, '--gateway', gateway, NETWORK]);
  const prefix = gateway.split('.').slice(0, 3).join('.');
  return { address: (n) => `${prefix}.${10 + (n % 200)}` };
}

async function removeLeftovers(): Promise<void> {
  const containers = (await docker(['ps', '-aq', '--filter', `label=${LABEL}`])).split('\n').filter(Boolean);
  if (containers.length) await dockerQuiet(['rm', '-fv', ...containers]);
  const networks = (await docker(['network', 'ls', '-q', '--filter', `label=${LABEL}`])).split('\n').filter(Boolean);
  if (networks.length) await dockerQuiet(['network', 'rm', ...networks]);
}

/** The host worker's environment, and its folders, searchable by the agents' uids. */
async function hostEnv(root: string, model: ContainerModel, name: string): Promise<Record<string, string>> {
  await fs.mkdir(path.join(root, name));
  await fs.chmod(path.join(root, name), 0o711);
  return {
    WORKER_API_TOKEN: TOKEN,
    AGENT_ISOLATION: 'required',
    AGENT_UID_RANGE: HOST_UIDS,
    ANTHROPIC_BASE_URL: model.fake.url,
    WORKSPACE_DIR: path.join(root, name, 'workspace'),
    SESSIONS_DIR: path.join(root, name, 'sessions'),
  };
}

interface StartedContainer {
  id: string;
  url: string;
  /** `docker run -d` returned. */
  runMs: number;
  /** From `docker run` to the first 200 from /health. */
  healthMs: number;
  /** From `docker run` to Docker's health_status `healthy` event. */
  healthyMs(): Promise<number>;
}

let containers = 0;

/** `docker run -d` of the image, hardened, on the benchmark's network; times it to /health. */
async function runContainer(network: Network, model: ContainerModel): Promise<StartedContainer> {
  const ip = network.address(containers++);
  const env = { WORKER_API_TOKEN: TOKEN, HOST: '0.0.0.0', LOG_LEVEL: 'warn', AGENT_UID_RANGE: CONTAINER_UIDS, ANTHROPIC_BASE_URL: model.url };
  const startedAt = Date.now();
  const started = performance.now();
  const id = await docker([
    'run', '-d', '--label', LABEL, '--network', NETWORK, '--ip', ip, ...HARDENING,
    ...Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    IMAGE,
  ]);
  const runMs = performance.now() - started;
  const url = `http://${ip}:5000`;
  for (;;) {
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    if (performance.now() - started > 60_000) throw new Error(`container ${id} gave no /health in 60 s:\n${await docker(['logs', id])}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const healthMs = performance.now() - started;
  return { id, url, runMs, healthMs, healthyMs: async () => (await healthyAt(id, startedAt)) - startedAt };
}

/**
 * When Docker reported the container `healthy`, in ms since the epoch: from `docker events`
 * replayed from the start, read once /health answers so the CLI does not compete with the
 * starting worker for the CPU.
 */
function healthyAt(id: string, since: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const events = spawn(
      'docker',
      ['events', '--since', String(Math.floor(since / 1000) - 1), '--filter', `container=${id}`, '--format', '{{.TimeNano}} {{.Action}}'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const timer = setTimeout(() => finish(new Error(`container ${id} not healthy in 60 s`)), 60_000);
    let buffer = '';
    const finish = (result: number | Error): void => {
      clearTimeout(timer);
      events.kill();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    events.on('error', finish);
    events.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n').slice(0, -1)) {
        const [nanos, ...action] = line.split(' ');
        if (action.join(' ') === 'health_status: healthy') finish(Number(BigInt(nanos!) / 1000n) / 1000);
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
  });
}

/** Start-up, host against container, alternating; every container is removed before the next start. */
async function compareStarts(root: string, model: ContainerModel, network: Network) {
  const host: number[] = [];
  const returned: number[] = [];
  const health: number[] = [];
  const healthy: number[] = [];
  for (let i = -1; i < RUNS; i++) {
    const worker = await startBuiltWorker(await hostEnv(root, model, `start-${i}`), await freePort());
    await worker.stop();
    const container = await runContainer(network, model);
    try {
      const healthyMs = await container.healthyMs();
      if (i < 0) continue; // warm-up: page cache, the image's layers
      host.push(worker.startupMs);
      returned.push(container.runMs);
      health.push(container.healthMs);
      healthy.push(healthyMs);
    } finally {
      await docker(['rm', '-fv', container.id]);
    }
  }
  return { host, returned, health, healthy };
}

/** The same job through the host's worker and through a container, alternating. */
async function compareJobs(root: string, model: ContainerModel, network: Network) {
  const worker = await startBuiltWorker(await hostEnv(root, model, 'jobs'), await freePort());
  const container = await runContainer(network, model).catch(async (error: unknown) => {
    await worker.stop();
    throw error;
  });
  const host: number[] = [];
  const inContainer: number[] = [];
  try {
    await runJob(worker.url);
    await runJob(container.url);
    for (let i = 0; i < RUNS; i++) {
      host.push(await runJob(worker.url));
      inContainer.push(await runJob(container.url));
    }
  } finally {
    await worker.stop();
    await docker(['rm', '-fv', container.id]);
  }
  return { host, container: inContainer };
}

/** POST /execute → the stream's final event; its wall time in ms. */
async function runJob(url: string): Promise<number> {
  const { ms, value: last } = await timed(async () => {
    const res = await postExecute(url, JOB, {}, { token: TOKEN });
    if (res.status !== 200) throw new Error(`${url}/execute answered ${res.status}: ${res.text}`);
    return (await res.events({ timeoutMs: 120_000 })).at(-1)?.data;
  });
  if (last?.type !== 'completed') throw new Error(`job at ${url} ended with ${JSON.stringify(last)}`);
  return ms;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('## Containers (issue #11)\n');
  console.log(await benchContainer());
}
