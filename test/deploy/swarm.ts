import { randomBytes } from 'node:crypto';
import { AGENT_UID_RANGE, docker, dockerQuiet, freePort, getJson, inspect, poll, run, saveLog } from './docker-cli.js';
import type { Images } from './images.js';

export const SWARM_STACK = 'acwdeploy';
/** Set on the node when this test created the swarm, so that only then it leaves it (even after a crash). */
const CREATED_LABEL = 'ai-coding-worker.deploy-test';

export interface SwarmStack {
  /** The gateway, through its host-mode published port. */
  url: string;
  /** A service's container environment (`NAME=value`). */
  serviceEnv(service: string): Promise<string[]>;
  runningContainers(service: string): Promise<string[]>;
  runningContainer(service: string): Promise<string>;
  /** The worker container whose hostname (a swarm task's is its short id) is `host`. */
  containerByHost(host: string): Promise<string>;
  /** Waits until that worker has exited, and checks it exited 0. */
  waitExited(host: string): Promise<void>;
  /** Exit codes of every worker container that has exited. */
  exitedWorkers(): Promise<number[]>;
  /** MinIO: scaled to 0 and its container killed (SIGKILL), as a crash would. */
  killStore(): Promise<void>;
  startStore(): Promise<void>;
}

const service = (name: string) => `${SWARM_STACK}_${name}`;

async function containersOf(name: string, extra: string[] = []): Promise<string[]> {
  const out = await docker(['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${service(name)}`, ...extra]);
  return out.split('\n').filter(Boolean);
}

async function swarmState(): Promise<string> {
  return docker(['info', '--format', '{{.Swarm.LocalNodeState}}']);
}

/** A single-node swarm (created here unless the engine is in one), and swarm.yml deployed on it with the local images. */
export async function swarmStack(images: Images, modelUrl: string, token: string): Promise<SwarmStack> {
  if ((await swarmState()) !== 'active') {
    const init = await dockerQuiet(['swarm', 'init']);
    // More than one address on the default route's interface: say which.
    if (init.code !== 0) await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const nodeId = await docker(['info', '--format', '{{.Swarm.NodeID}}']);
    await docker(['node', 'update', '--label-add', `${CREATED_LABEL}=true`, nodeId]);
  }
  const port = await freePort();
  const env = {
    WORKER_IMAGE: images.worker,
    REDIS_IMAGE: images.redis,
    S3_IMAGE: images.s3,
    MC_IMAGE: images.mc,
    WORKER_API_TOKEN: token,
    JOB_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    REDIS_PASSWORD: randomBytes(16).toString('hex'),
    MINIO_ROOT_PASSWORD: randomBytes(16).toString('hex'),
    MINIO_WORKER_SECRET_KEY: randomBytes(16).toString('hex'),
    GATEWAY_PORT: String(port),
    GATEWAY_REPLICAS: '1',
    WORKER_REPLICAS: '2',
    ANTHROPIC_BASE_URL: modelUrl,
    AGENT_UID_RANGE,
    LOG_LEVEL: process.env.DEPLOY_LOG_LEVEL ?? 'info',
  };
  await run('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', 'swarm.yml', '-c', 'test/deploy/swarm.test.yml', SWARM_STACK], { env });
  const url = `http://127.0.0.1:${port}`;
  await poll(
    'the gateway ready with two queue workers',
    async () => {
      if ((await getJson(`${url}/ready`)).status !== 200) return false;
      return (await getJson(`${url}/health`)).json.queue?.workers === 2;
    },
    120_000,
    500,
  );

  const runningContainers = (name: string) => containersOf(name, ['--filter', 'status=running']);
  const containerByHost = async (host: string): Promise<string> => {
    const found = (await containersOf('worker')).find((id) => id.startsWith(host));
    if (!found) throw new Error(`no worker container with hostname ${host}`);
    return found;
  };
  return {
    url,
    async serviceEnv(name) {
      return JSON.parse(await docker(['service', 'inspect', service(name), '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'])) as string[];
    },
    runningContainers,
    async runningContainer(name) {
      const [id] = await runningContainers(name);
      if (!id) throw new Error(`no running container of ${name}`);
      return id;
    },
    containerByHost,
    async waitExited(host) {
      const id = await containerByHost(host);
      const state = await poll(`worker ${host} to exit`, async () => {
        const { State } = await inspect(id);
        return State.Status === 'exited' ? State : undefined;
      }, 60_000);
      if (state.ExitCode !== 0) throw new Error(`worker ${host} exited with ${state.ExitCode}`);
    },
    async exitedWorkers() {
      const ids = await containersOf('worker', ['--filter', 'status=exited']);
      return Promise.all(ids.map(async (id) => (await inspect(id)).State.ExitCode as number));
    },
    async killStore() {
      const [running] = await runningContainers('minio');
      await docker(['service', 'scale', '--detach', `${service('minio')}=0`]);
      if (running) await dockerQuiet(['kill', running]);
      await poll('the store to be gone', async () => (await runningContainers('minio')).length === 0, 30_000);
    },
    async startStore() {
      await docker(['service', 'scale', '--detach', `${service('minio')}=1`]);
    },
  };
}

/**
 * Removes the stack, its containers' volumes (named and anonymous) and network, and
 * leaves the swarm if this test created it. Safe to call when nothing is there.
 */
export async function removeStack({ saveLogs = true } = {}): Promise<void> {
  const state = await swarmState().catch(() => 'inactive');
  if (state !== 'active') return;
  const containers = (await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${SWARM_STACK}`])).split('\n').filter(Boolean);
  const volumes = new Set<string>([`${SWARM_STACK}_redis-data`, `${SWARM_STACK}_minio-data`]);
  for (const id of containers) {
    const mounts = ((await inspect(id).catch(() => ({ Mounts: [] }))).Mounts ?? []) as Array<{ Type: string; Name?: string }>;
    for (const mount of mounts) if (mount.Type === 'volume' && mount.Name) volumes.add(mount.Name);
  }
  for (const name of saveLogs ? ['gateway', 'worker', 'redis', 'minio', 'minio-init'] : []) {
    const logs = await dockerQuiet(['service', 'logs', '--timestamps', '--no-trunc', service(name)]);
    if (logs.code === 0) await saveLog(`${SWARM_STACK}-${name}`, logs.stdout + logs.stderr);
  }
  await dockerQuiet(['stack', 'rm', SWARM_STACK]);
  await poll(
    'the stack\'s containers and network to go',
    async () => {
      const left = await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${SWARM_STACK}`]);
      const network = await dockerQuiet(['network', 'inspect', `${SWARM_STACK}_cluster`]);
      return left === '' && network.code !== 0;
    },
    90_000,
    500,
  );
  for (const volume of volumes) await dockerQuiet(['volume', 'rm', volume]);
  const labels = await docker(['node', 'inspect', 'self', '--format', '{{json .Spec.Labels}}']);
  if (labels.includes(CREATED_LABEL)) {
    await docker(['swarm', 'leave', '--force']);
    await dockerQuiet(['network', 'rm', 'docker_gwbridge']);
  }
}
