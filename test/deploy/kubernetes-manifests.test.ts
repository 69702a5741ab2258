/**
 * The Kubernetes manifests, deploy/kubernetes/base (issue #11).
 *
 * No cluster is available here, so the manifests are validated against schemas, not applied:
 * the kustomization is rendered in-process (the small part of kustomize it uses), every object is
 * checked against Kubernetes' published schemas — the validators of `kubernetes-models` (generated
 * from Kubernetes' OpenAPI document) and `@kubernetes-models/keda` (from KEDA's CRDs) — and the
 * properties the deployment depends on are asserted: probes, the security context isolation
 * needs, grace periods, the autoscaler's target and queue, placeholder-only secrets, and an
 * environment the worker's own config parser accepts. Offline and fast. Where kubectl is
 * installed, its built-in kustomize must render exactly the same objects.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config/env.js';
import { QUEUE_NAME } from '../../src/queue/keys.js';

const BASE = fileURLToPath(new URL('../../deploy/kubernetes/base/', import.meta.url));
const IMAGE = 'ai-coding-worker';
const ISOLATION_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'KILL', 'SETUID', 'SETGID'];
/** A placeholder: what secret.yaml holds until an operator puts real values in. */
const PLACEHOLDER = /^REPLACE_ME_\w+$/;
/** Aborting and saving the jobs still running when SHUTDOWN_GRACE_MS is over takes ~7 s; 15 s leaves room. */
const SAVE_AFTER_GRACE_SECONDS = 15;

// ---- the YAML shapes read here (the schemas check the rest) ----

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef };
}
interface KeyRef {
  name: string;
  key: string;
}
interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; emptyDir?: object; hostPath?: object }[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } | Record<string, string>;
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string } }[];
    [field: string]: unknown;
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface Kustomization {
  namespace?: string;
  resources: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
}
interface ScaledObjectSpec {
  scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  advanced?: { scalingModifiers?: { formula: string; target: string } };
  triggers: { type: string; name?: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[];
}

// ---- rendering: the kustomize subset the base uses ----

/** Fields of kustomization.yaml implemented below; anything else must fail loudly, not render wrong. */
const RENDERED_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'labels', 'images', 'resources']);
const CLUSTER_SCOPED = new Set(['Namespace']);

function render(directory: string): K8sObject[] {
  const kustomization = parse(readFileSync(path.join(directory, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unsupported = Object.keys(kustomization).filter((field) => !RENDERED_FIELDS.has(field));
  assert.deepEqual(unsupported, [], 'kustomization.yaml uses fields this test does not render: extend render()');
  const objects = kustomization.resources.flatMap((file) => {
    assert.match(file, /^[\w.-]+\.ya?ml$/, `${file}: only files beside kustomization.yaml are rendered`);
    return parseAllDocuments(readFileSync(path.join(directory, file), 'utf8'))
      .map((document) => {
        assert.deepEqual(document.errors, [], `${file} is not valid YAML`);
        return document.toJS() as K8sObject | null;
      })
      .filter((object): object is K8sObject => object !== null);
  });
  for (const object of objects) {
    if (kustomization.namespace && !CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = kustomization.namespace;
    for (const { pairs, includeSelectors, includeTemplates } of kustomization.labels ?? []) {
      assert.ok(!includeSelectors && !includeTemplates, 'labels: only metadata labels are rendered');
      object.metadata.labels = { ...object.metadata.labels, ...pairs };
    }
    for (const container of allContainers(object)) container.image = setImage(container.image, kustomization.images ?? []);
  }
  return objects;
}

/** kustomize's `images`: an entry whose name is the image's name (without tag or digest) rewrites it. */
function setImage(image: string, entries: NonNullable<Kustomization['images']>): string {
  const match = /^(?<name>[^@]+?)(?::(?<tag>[^:/@]+))?(?:@(?<digest>.+))?$/.exec(image);
  assert.ok(match?.groups, `unparsable image ${image}`);
  const { name, tag, digest } = match.groups as { name: string; tag?: string; digest?: string };
  const entry = entries.find((candidate) => candidate.name === name);
  if (!entry) return image;
  const newDigest = entry.digest ?? (entry.newTag ? undefined : digest);
  const newTag = entry.digest ? undefined : (entry.newTag ?? tag);
  return `${entry.newName ?? name}${newTag ? `:${newTag}` : ''}${newDigest ? `@${newDigest}` : ''}`;
}

function podSpec(object: K8sObject): PodSpec | undefined {
  return ['Deployment', 'StatefulSet'].includes(object.kind) ? object.spec?.template?.spec : undefined;
}

function allContainers(object: K8sObject): Container[] {
  const spec = podSpec(object);
  return spec ? [...(spec.initContainers ?? []), ...spec.containers] : [];
}

// ---- reading the rendered objects ----

const objects = render(BASE);

function find(kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in the rendering`);
  return found;
}

/** The pods that run the worker's image, by Deployment: the gateway and the queue workers. */
function workerImagePods(): { deployment: K8sObject; spec: PodSpec; container: Container }[] {
  return objects.flatMap((object) => {
    const spec = podSpec(object);
    const container = spec?.containers.find((candidate) => candidate.image.split(':')[0] === IMAGE);
    return spec && container ? [{ deployment: object, spec, container }] : [];
  });
}

/**
 * A container's environment as the kubelet builds it: envFrom first, then env in order, with
 * `$(NAME)` references to variables defined before. Every reference must resolve.
 */
function containerEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, find('ConfigMap', source.configMapRef.name).data);
    else if (source.secretRef) Object.assign(env, find('Secret', source.secretRef.name).stringData);
    else assert.fail(`${container.name}: unsupported envFrom ${JSON.stringify(source)}`);
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef ?? variable.valueFrom?.configMapKeyRef;
    if (variable.value !== undefined) {
      env[variable.name] = variable.value.replace(/\$\((\w+)\)/g, (reference, name: string) => {
        assert.ok(name in env, `${container.name}: ${variable.name} refers to $(${name}), which is not defined before it`);
        return env[name]!;
      });
    } else if (ref) {
      const source = variable.valueFrom?.secretKeyRef ? find('Secret', ref.name).stringData : find('ConfigMap', ref.name).data;
      assert.ok(source && ref.key in source, `${container.name}: ${variable.name} needs key ${ref.key} of ${ref.name}`);
      env[variable.name] = source[ref.key]!;
    } else {
      assert.fail(`${container.name}: ${variable.name} has no value this test can resolve`);
    }
  }
  return env;
}

/** A container port given by name or number, as a number. */
function portNumber(container: Container, port: number | string): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

/** secret.yaml's values with each placeholder replaced by a valid value, as an operator would. */
function withRealSecrets(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => [name, value.replaceAll(/REPLACE_ME_\w+/g, () => randomBytes(32).toString('hex'))]),
  );
}

// ---- the schemas ----

type Validatable = new (data: never) => { validate(): void };
const SCHEMAS: Record<string, Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

function validate(object: K8sObject): void {
  const Model = SCHEMAS[`${object.apiVersion}/${object.kind}`];
  assert.ok(Model, `${object.apiVersion} ${object.kind} has no schema here: add its model to SCHEMAS`);
  new Model(structuredClone(object) as never).validate();
}

describe('Kubernetes manifests (rendered and validated offline: no cluster is available here)', () => {
  it('render to the expected objects, with unique names and the image set by kustomize', () => {
    const names = objects.map((object) => `${object.kind}/${object.metadata.name}`);
    assert.equal(new Set(names).size, names.length, `duplicate objects: ${names.join(', ')}`);
    for (const expected of [
      'Namespace/ai-coding-worker',
      'Deployment/gateway',
      'Service/gateway',
      'Deployment/worker',
      'ScaledObject/worker',
      'StatefulSet/redis',
      'Service/redis',
      'Secret/ai-coding-worker',
    ]) {
      assert.ok(names.includes(expected), `missing ${expected}`);
    }
    for (const object of objects) {
      assert.match(object.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${object.metadata.name} is not a DNS label`);
      if (object.kind !== 'Namespace') assert.equal(object.metadata.namespace, 'ai-coding-worker');
    }
    for (const { container } of workerImagePods()) assert.equal(container.image, `${IMAGE}:latest`);
    // Pod Security admission holds every pod of the namespace to "baseline" (the worker's five capabilities are in it).
    assert.equal(find('Namespace', 'ai-coding-worker').metadata.labels?.['pod-security.kubernetes.io/enforce'], 'baseline');
  });

  it('every object is valid against its Kubernetes or KEDA schema', () => {
    for (const object of objects) {
      assert.doesNotThrow(() => validate(object), `${object.kind} ${object.metadata.name}`);
    }
  });

  it('the schemas do reject a broken object (the validation is live)', () => {
    const broken = structuredClone(find('Deployment', 'worker'));
    broken.spec!.template!.spec.containers[0]!.ports = [{ containerPort: '5000' as unknown as number }];
    assert.throws(() => validate(broken), /containerPort must be integer/);
    const brokenScaler = structuredClone(find('ScaledObject', 'worker'));
    (brokenScaler.spec as unknown as ScaledObjectSpec).triggers[0]!.metadata.listLength = 1 as unknown as string;
    assert.throws(() => validate(brokenScaler), /listLength must be string/);
  });

  it('kubectl kustomize renders the same objects (where kubectl is installed)', (t) => {
    const result = spawnSync('kubectl', ['kustomize', BASE], { encoding: 'utf8', timeout: 20_000 });
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      t.skip('kubectl is not installed');
      return;
    }
    assert.ifError(result.error);
    assert.equal(result.status, 0, result.stderr);
    const key = (object: K8sObject) => `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const byKey = (list: K8sObject[]) => Object.fromEntries(list.map((object) => [key(object), object]));
    const kustomized = parseAllDocuments(result.stdout).map((document) => document.toJS() as K8sObject);
    assert.deepEqual(byKey(kustomized), byKey(objects));
  });

  it('every pod: no service-account token, no host namespaces or paths, nothing privileged', () => {
    for (const object of objects) {
      const spec = podSpec(object);
      if (!spec) continue;
      const where = `${object.kind} ${object.metadata.name}`;
      assert.equal(spec.automountServiceAccountToken, false, `${where} mounts a service-account token`);
      assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${where} shares a host namespace`);
      assert.ok(!spec.volumes?.some((volume) => volume.hostPath), `${where} mounts a host path`);
      for (const container of allContainers(object)) {
        const context = container.securityContext;
        assert.ok(context, `${where}/${container.name} has no securityContext`);
        assert.notEqual(context.privileged, true, `${where}/${container.name} is privileged`);
        assert.equal(context.allowPrivilegeEscalation, false, `${where}/${container.name}: allowPrivilegeEscalation`);
        assert.equal(context.readOnlyRootFilesystem, true, `${where}/${container.name}: readOnlyRootFilesystem`);
        assert.deepEqual(context.capabilities?.drop, ['ALL'], `${where}/${container.name} must drop ALL capabilities`);
        assert.ok(container.resources?.requests && container.resources.limits?.memory, `${where}/${container.name}: resources`);
      }
      for (const container of spec.containers) {
        assert.ok(container.livenessProbe && container.readinessProbe, `${where}/${container.name} lacks a probe`);
      }
    }
  });

  it('gateway and worker: liveness on /health, readiness on /ready, on the port the worker listens on', () => {
    const pods = workerImagePods();
    assert.deepEqual(pods.map(({ deployment }) => deployment.metadata.name).sort(), ['gateway', 'worker']);
    for (const { deployment, container } of pods) {
      const config = loadConfig(withRealSecrets(containerEnv(container)));
      const { livenessProbe, readinessProbe } = container;
      assert.equal(livenessProbe?.httpGet?.path, '/health', `${deployment.metadata.name}: liveness`);
      assert.equal(readinessProbe?.httpGet?.path, '/ready', `${deployment.metadata.name}: readiness`);
      assert.equal(portNumber(container, livenessProbe.httpGet.port), config.port);
      assert.equal(portNumber(container, readinessProbe.httpGet.port), config.port);
      // The kubelet probes the pod's IP: the worker must not listen on loopback only.
      assert.equal(config.host, '0.0.0.0');
    }
  });

  it('the worker runs as root with exactly the five isolation capabilities; the gateway as nobody with none', () => {
    const worker = find('Deployment', 'worker').spec!.template!.spec.containers[0]!;
    assert.equal(worker.securityContext?.runAsUser, 0, 'switching uids needs uid 0');
    assert.deepEqual([...(worker.securityContext?.capabilities?.add ?? [])].sort(), [...ISOLATION_CAPABILITIES].sort());
    assert.equal(containerEnv(worker).AGENT_ISOLATION, 'required');
    const gateway = find('Deployment', 'gateway').spec!.template!.spec.containers[0]!;
    assert.equal(gateway.securityContext?.runAsNonRoot, true);
    assert.ok((gateway.securityContext?.runAsUser ?? 0) > 0);
    assert.equal(gateway.securityContext?.capabilities?.add, undefined);
  });

  it('the read-only root filesystem leaves /tmp and WORKSPACE_DIR writable (emptyDir)', () => {
    for (const { deployment, spec, container } of workerImagePods()) {
      const env = containerEnv(container);
      for (const writable of ['/tmp', env.WORKSPACE_DIR]) {
        const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === writable);
        assert.ok(mount, `${deployment.metadata.name}: nothing mounted at ${writable}`);
        const volume = spec.volumes?.find((candidate) => candidate.name === mount.name);
        assert.ok(volume?.emptyDir, `${deployment.metadata.name}: ${writable} is not an emptyDir`);
      }
    }
    // The jobs' uids share the worker's /tmp: it gets the sticky bit before the worker starts.
    const init = find('Deployment', 'worker').spec!.template!.spec.initContainers?.[0];
    assert.deepEqual(init?.command, ['chmod', '1777', '/tmp']);
  });

  it('terminationGracePeriodSeconds leaves room after SHUTDOWN_GRACE_MS to abort and save', () => {
    for (const { deployment, spec, container } of workerImagePods()) {
      const config = loadConfig(withRealSecrets(containerEnv(container)));
      const preStop = container.lifecycle?.preStop?.exec?.command;
      const preStopSeconds = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
      // A gateway runs no jobs: SHUTDOWN_GRACE_MS does not apply to it.
      const jobsSeconds = config.role === 'gateway' ? 0 : config.shutdownGraceMs / 1000 + SAVE_AFTER_GRACE_SECONDS;
      const needed = jobsSeconds + preStopSeconds;
      assert.ok(
        (spec.terminationGracePeriodSeconds ?? 30) > needed,
        `${deployment.metadata.name}: terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} <= ${needed}`,
      );
    }
  });

  it('gateway: two replicas behind a ClusterIP Service on port 5000', () => {
    const gateway = find('Deployment', 'gateway');
    assert.equal(gateway.spec?.replicas, 2);
    const container = gateway.spec!.template!.spec.containers[0]!;
    assert.equal(containerEnv(container).ROLE, 'gateway');
    const service = find('Service', 'gateway').spec as { type: string; selector: Record<string, string>; ports: { port: number; targetPort: number | string }[] };
    assert.equal(service.type, 'ClusterIP');
    assert.equal(service.ports[0]?.port, 5000);
    assert.equal(portNumber(container, service.ports[0]!.targetPort), 5000);
    const podLabels = gateway.spec?.template?.metadata?.labels ?? {};
    for (const [label, value] of Object.entries(service.selector)) assert.equal(podLabels[label], value, `selector ${label}`);
  });

  it('the ScaledObject scales the worker Deployment on the BullMQ wait list, with one job per worker', () => {
    const scaled = find('ScaledObject', 'worker').spec as unknown as ScaledObjectSpec;
    const target = find(scaled.scaleTargetRef.kind ?? 'Deployment', scaled.scaleTargetRef.name);
    assert.equal(target.kind, 'Deployment');
    const workerEnv = containerEnv(target.spec!.template!.spec.containers[0]!);
    assert.equal(workerEnv.ROLE, 'worker');
    assert.equal(target.spec?.replicas, undefined, 'KEDA owns the replica count: a re-apply must not reset it');
    assert.ok([0, 1].includes(scaled.minReplicaCount ?? 0), 'minReplicaCount 0 or 1');
    assert.ok((scaled.maxReplicaCount ?? 100) > (scaled.minReplicaCount ?? 0));

    const redisService = find('Service', 'redis');
    const redisPort = (redisService.spec as { ports: { port: number }[] }).ports[0]!.port;
    const lists = new Map<string, string>();
    for (const trigger of scaled.triggers) {
      assert.equal(trigger.type, 'redis');
      // KEDA's operator resolves the address from its own namespace.
      assert.equal(trigger.metadata.address, `redis.${redisService.metadata.namespace}.svc:${redisPort}`);
      assert.match(trigger.metadata.listLength ?? '', /^[1-9]\d*$/);
      const auth = find('TriggerAuthentication', trigger.authenticationRef?.name ?? '').spec as {
        secretTargetRef: { parameter: string; name: string; key: string }[];
      };
      const password = auth.secretTargetRef.find((ref) => ref.parameter === 'password');
      assert.ok(password && password.key in (find('Secret', password.name).stringData ?? {}), 'Redis password for KEDA');
      lists.set(trigger.name ?? '', trigger.metadata.listName ?? '');
    }
    assert.ok([...lists.values()].includes(`bull:${QUEUE_NAME}:wait`), `no trigger on bull:${QUEUE_NAME}:wait`);

    // waiting + running jobs, divided by the jobs one worker runs at once.
    const modifiers = scaled.advanced?.scalingModifiers;
    assert.ok(modifiers, 'scalingModifiers');
    for (const name of modifiers.formula.match(/[A-Za-z_]\w*/g) ?? []) assert.ok(lists.has(name), `formula names ${name}`);
    assert.deepEqual([...lists.values()].sort(), [`bull:${QUEUE_NAME}:active`, `bull:${QUEUE_NAME}:wait`]);
    assert.equal(Number(modifiers.target), loadConfig(withRealSecrets(workerEnv)).maxConcurrentJobs);
  });

  it('Redis: append-only, fsync always, noeviction, on a persistent volume, password from the Secret', () => {
    const redis = find('StatefulSet', 'redis');
    const container = redis.spec!.template!.spec.containers[0]!;
    const args = (container.args ?? []).join(' ');
    for (const setting of ['--appendonly yes', '--appendfsync always', '--maxmemory-policy noeviction', '--requirepass $(REDIS_PASSWORD)']) {
      assert.ok(args.includes(setting), `redis-server lacks ${setting}`);
    }
    const dataDir = /--dir (\S+)/.exec(args)?.[1];
    const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === dataDir);
    assert.ok(mount, `nothing mounted at the data directory ${dataDir}`);
    assert.ok(redis.spec?.volumeClaimTemplates?.some((claim) => claim.metadata.name === mount.name), 'data is not on a PVC');
    assert.ok(containerEnv(container).REDIS_PASSWORD, 'REDIS_PASSWORD');

    // The gateway and the workers reach it by its Service, with the same password.
    const port = (find('Service', 'redis').spec as { ports: { port: number }[] }).ports[0]!.port;
    for (const { container: app } of workerImagePods()) {
      const env = containerEnv(app);
      assert.equal(env.REDIS_URL, `redis://:${env.REDIS_PASSWORD}@redis:${port}`);
    }
  });

  it('Secrets hold placeholders only, never real values', () => {
    const secrets = objects.filter((object) => object.kind === 'Secret');
    assert.ok(secrets.length > 0);
    for (const secret of secrets) {
      assert.equal(secret.data, undefined, `${secret.metadata.name}: use stringData with placeholders, not data`);
      for (const [key, value] of Object.entries(secret.stringData ?? {})) {
        assert.match(value, PLACEHOLDER, `${secret.metadata.name}/${key} is not a placeholder`);
      }
    }
  });

  it('the worker accepts the environment, names only variables it reads, and refuses the placeholders', () => {
    const known = new Set(CONFIG_VARIABLES);
    for (const { deployment, container } of workerImagePods()) {
      const env = containerEnv(container);
      // REDIS_PASSWORD only feeds REDIS_URL's $(REDIS_PASSWORD).
      const unknown = Object.keys(env).filter((name) => !known.has(name) && name !== 'REDIS_PASSWORD');
      assert.deepEqual(unknown, [], `${deployment.metadata.name} sets variables the worker does not read`);

      const config = loadConfig(withRealSecrets(env));
      assert.equal(config.role, env.ROLE);
      assert.equal(config.storage.kind, 's3', 'gateways and workers must share one store');
      assert.ok(config.queue, 'REDIS_URL and JOB_ENCRYPTION_KEY');
      assert.ok(config.apiToken, 'WORKER_API_TOKEN');

      // A forgotten placeholder cannot go live: the worker exits 78 on the encryption key.
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && error.problems.some((problem) => problem.startsWith('JOB_ENCRYPTION_KEY')),
      );
    }
  });
});
