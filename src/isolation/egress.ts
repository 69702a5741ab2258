/**
 * AGENT_NETWORK=proxy-only (issue #12): an agent's uid may open TCP connections
 * to the model proxy (127.0.0.1:<proxyPort>) and, while its job runs, to the
 * job's git remote (the addresses the worker resolved, on the remote's port) —
 * nothing else: no DNS, no other loopback port, no internet, IPv4 or IPv6.
 * The rules are in egress-rules.ts; this file installs and removes them.
 *
 * Where it works:
 * - Linux, the worker running as root (in truth: with CAP_NET_ADMIN), agents
 *   under uids of their own (AGENT_ISOLATION), `iptables` (and `ip6tables`
 *   where the host has IPv6) with the nft or the legacy backend, and the
 *   owner match (xt_owner, or nft's `meta skuid`).
 * - In a container only with CAP_NET_ADMIN (`--cap-add NET_ADMIN`) and the
 *   image's iptables. The rules then live in the container's own network
 *   namespace and govern that container only. With `--network host` they
 *   land in the host's own tables and apply to those uids host-wide.
 * Where it does not: containers and Kubernetes pods without NET_ADMIN (the
 * default, and what rootless runtimes and restricted pod policies give),
 * macOS and Windows, and without uid isolation (the agent's packets are then
 * the worker's). probeEgressSupport says which applies, and the worker
 * refuses to start. (A rootless runtime that does grant NET_ADMIN over the
 * container's own network namespace should behave as above; untested.)
 *
 * What the rules do not cover:
 * - Unix sockets, which are not IP. A writable /var/run/docker.sock is the
 *   whole host; the D-Bus system bus, systemd-resolved's varlink socket and
 *   nscd answer DNS queries for the agent, so names still resolve and a
 *   crafted name still leaks to a DNS server; abstract sockets ignore file
 *   permissions. Only what the agent's uid can open is reachable, but that is
 *   decided by file permissions and the container, not here.
 * - Work done for the agent by a process of another uid: the model proxy
 *   itself (and so the model provider), the git remote (the agent can push
 *   anything to the branch it is given).
 * - Loopback is all one: the agent cannot reach a server it started itself on
 *   127.0.0.1 either (a test suite that listens on a TCP port fails; Unix
 *   sockets work), and other uids' listeners are out of reach except the
 *   proxy's port — which any local process may be listening on if the proxy
 *   is not.
 * - Packets no socket of the agent's owns: ICMP errors the kernel sends,
 *   a closed socket's FIN after its process died. The agent's own ICMP (ping
 *   sockets) is rejected like everything else.
 * - A firewall that flushes the filter table (ufw/firewalld reloads) takes
 *   the rules away: `ensureInstalled` (run before every remote is opened)
 *   notices, logs, and puts them back; until then the uid is open.
 */
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { Logger } from 'pino';
import {
  chainName,
  hookProblem,
  installScript,
  PROBE_CHAIN_PREFIX,
  probeScript,
  rejectSpecs,
  removalScript,
  removeChainsScript,
  remoteRuleSpec,
  type IpFamily,
  type RemoteAddress,
} from './egress-rules.js';
import type { IsolationStatus } from './types.js';

const BINARIES: Record<IpFamily, { rules: string; restore: string }> = {
  4: { rules: 'iptables', restore: 'iptables-restore' },
  6: { rules: 'ip6tables', restore: 'ip6tables-restore' },
};
/** Seconds to wait for the xtables lock that Docker's iptables calls take too (legacy backend; nft ignores it). */
const LOCK_WAIT = ['-w', '30'];
/** Capability bit of CAP_NET_ADMIN. */
const CAP_NET_ADMIN = 12;

export interface AgentEgressInput {
  /** The agent uids this worker claimed (src/isolation/uid-pool.ts): it alone manages their chains. */
  uids: readonly number[];
  proxyPort: number;
  logger: Logger;
}

/** A git remote as the worker resolved it; the addresses are pinned for git with pinRemoteAddresses (src/git/git-env.ts). */
export interface ResolvedRemote {
  host: string;
  port: number;
  addresses: string[];
}

type Rule = { family: IpFamily; spec: string[] };

/** The chains of this worker's agent uids, from `setUp` to `close`. */
export class AgentEgress {
  /** The remote rules of running jobs, by uid, so a chain rebuilt mid-job keeps them. */
  private readonly remotes = new Map<number, Rule[]>();
  private closed = false;

  private constructor(
    readonly uids: readonly number[],
    readonly proxyPort: number,
    private readonly families: readonly IpFamily[],
    private readonly logger: Logger,
  ) {}

  /**
   * Installs (or, after a dead worker, replaces) the chain of every uid. Each
   * uid is claimed by one worker on the host, so what its chain held is ours
   * to flush. Rejects when iptables fails; nothing half-done stays behind.
   */
  static async setUp(input: AgentEgressInput): Promise<AgentEgress> {
    const egress = new AgentEgress([...input.uids], input.proxyPort, hostFamilies(), input.logger);
    try {
      for (const family of egress.families) await exclusive(() => egress.install(family, egress.uids));
    } catch (error) {
      await removeAgentEgressRules(egress.uids).catch(() => undefined);
      throw error;
    }
    input.logger.info(
      { uids: egress.uids, proxyPort: egress.proxyPort, ipFamilies: egress.families },
      'agents reach the model proxy and their git remote only (AGENT_NETWORK=proxy-only)',
    );
    return egress;
  }

  /**
   * Lets `uid` open TCP connections to one address:port until the returned
   * function is called (at the end of the job; calling it again does nothing).
   * That function never rejects: if iptables fails it rebuilds the chain, and
   * logs an error if even that fails.
   */
  async allowRemote(uid: number, remote: RemoteAddress): Promise<() => Promise<void>> {
    this.checkUsable(uid);
    const rule = remoteRuleSpec(remote);
    // Without an IPv6 stack nothing can connect to an IPv6 address, so there is nothing to open.
    if (!this.families.includes(rule.family)) return async () => undefined;
    await this.ensureFamily(uid, rule.family);
    await exclusive(() => mustRun(rule.family, ['-I', chainName(uid), '1', ...rule.spec]));
    const rules = this.remotes.get(uid) ?? [];
    rules.push(rule);
    this.remotes.set(uid, rules);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      rules.splice(rules.indexOf(rule), 1);
      await this.closeRemote(uid, rule);
    };
  }

  /** `allowRemote` for every address of a resolved remote, with one function that closes them all. */
  async allowResolvedRemote(uid: number, remote: ResolvedRemote): Promise<() => Promise<void>> {
    const releases: Array<() => Promise<void>> = [];
    try {
      for (const address of remote.addresses) releases.push(await this.allowRemote(uid, { address, port: remote.port }));
    } catch (error) {
      for (const release of releases) await release();
      throw error;
    }
    return async () => {
      for (const release of releases) await release();
    };
  }

  /**
   * Checks that `uid`'s hook is still first among the rules that could accept
   * its packets and that its chain still ends in REJECT, and re-installs both
   * if not. A job without a git remote can call it at its start.
   */
  async ensureInstalled(uid: number): Promise<void> {
    this.checkUsable(uid);
    for (const family of this.families) await this.ensureFamily(uid, family);
  }

  /** Removes the hooks and chains of every uid. Call it once no job runs; a second call does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.remotes.clear();
    await removeAgentEgressRules(this.uids);
  }

  private async ensureFamily(uid: number, family: IpFamily): Promise<void> {
    await exclusive(async () => {
      const listing = await mustRun(family, ['-S', 'OUTPUT']);
      const catchAll = rejectSpecs(family).at(-1)!;
      const problem =
        hookProblem(listing, uid) ??
        ((await run(family, ['-C', chainName(uid), ...catchAll])).code === 0 ? undefined : `${chainName(uid)} does not end in REJECT`);
      if (problem === undefined) return;
      this.logger.warn({ uid, ipFamily: family, problem }, 'egress rules of an agent uid were changed (a firewall reload?); re-installing them');
      await this.install(family, [uid], listing);
    });
  }

  private async closeRemote(uid: number, rule: Rule): Promise<void> {
    if (this.closed) return;
    const deleted = await exclusive(() => run(rule.family, ['-D', chainName(uid), ...rule.spec])).catch(() => undefined);
    if (deleted?.code === 0) return;
    // Gone already (a firewall reload) or iptables failed: rebuilding the chain from what
    // this worker knows leaves exactly the remotes of jobs still running.
    try {
      await exclusive(() => this.install(rule.family, [uid]));
    } catch (error) {
      this.logger.error({ err: error, uid, rule: rule.spec.join(' ') }, 'could not close a git remote again for an agent uid');
    }
  }

  /** Call inside `exclusive`. */
  private async install(family: IpFamily, uids: readonly number[], listing?: string): Promise<void> {
    const current = listing ?? (await mustRun(family, ['-S', 'OUTPUT']));
    const remotes = (uid: number): string[][] =>
      (this.remotes.get(uid) ?? []).filter((rule) => rule.family === family).map((rule) => rule.spec);
    await mustRestore(family, installScript(family, uids, this.proxyPort, current, remotes));
  }

  private checkUsable(uid: number): void {
    if (this.closed) throw new Error('the agent egress rules were removed (close)');
    if (!this.uids.includes(uid)) throw new Error(`uid ${uid} is not one of this worker's agent uids`);
  }
}

/**
 * Removes the hooks and chains of `uids`, wherever they came from. `close`
 * uses it; a worker with AGENT_NETWORK=open may call it at start-up, best
 * effort, so that uids a killed proxy-only worker left restricted are open again.
 */
export async function removeAgentEgressRules(uids: readonly number[]): Promise<void> {
  for (const family of hostFamilies()) {
    await exclusive(async () => {
      const script = removalScript(uids, await mustRun(family, ['-S']));
      if (script !== undefined) await mustRestore(family, script);
    });
  }
}

export type EgressSupport = { ok: true } | { ok: false; reason: string };

/**
 * Whether proxy-only can be enforced here: uid isolation (when `isolation` is
 * given), Linux, CAP_NET_ADMIN, iptables (and ip6tables on a host with IPv6),
 * and a real owner-matching chain hooked into OUTPUT for a moment, for a uid
 * nobody has — which is what `setUp` does, so a yes here means it will work.
 */
export async function probeEgressSupport(isolation?: IsolationStatus): Promise<EgressSupport> {
  if (isolation && isolation.mode !== 'uid') {
    return refuse(
      `agents run as the worker's own user (${isolation.reason ?? 'no uid isolation'}), so their packets cannot be told ` +
        "from the worker's: proxy-only needs agents under uids of their own (run the worker as root, AGENT_ISOLATION=auto or required)",
    );
  }
  if (process.platform !== 'linux') return refuse(`it is built on iptables, on Linux only (this is ${process.platform})`);
  if (!(await hasNetAdmin())) {
    return refuse(
      `the worker (uid ${process.getuid?.()}) lacks CAP_NET_ADMIN: run it as root; in a container add the NET_ADMIN ` +
        'capability (docker run --cap-add NET_ADMIN; Kubernetes: securityContext.capabilities.add)',
    );
  }
  const chain = `${PROBE_CHAIN_PREFIX}${process.pid}`;
  for (const family of hostFamilies()) {
    const binary = BINARIES[family].restore;
    try {
      const outcome = await exclusive(() => execIptables(binary, [...LOCK_WAIT, '--noflush'], probeScript(family, chain)));
      if (outcome.code !== 0) {
        return refuse(`${binary} could not install an owner-matching REJECT chain (exit ${outcome.code}): ${outcome.stderr || 'no message'}`);
      }
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      const why = missing ? `${binary} is not installed (Debian/Ubuntu: apt-get install iptables)` : `${binary} failed: ${(error as Error).message}`;
      return refuse(family === 6 ? `${why}; it is needed because this host has IPv6` : why);
    } finally {
      await exclusive(async () => {
        const script = removeChainsScript([chain], await mustRun(family, ['-S']));
        if (script !== undefined) await mustRestore(family, script);
      }).catch(() => undefined);
    }
  }
  return { ok: true };
}

/** Why the worker refuses to start with AGENT_NETWORK=proxy-only: `probeEgressSupport`'s reason, and the way out. */
export class AgentNetworkUnavailableError extends Error {
  constructor(reason: string) {
    super(
      `AGENT_NETWORK=proxy-only, but the agents' network cannot be restricted here: ${reason}. ` +
        'It needs a Linux worker with root (CAP_NET_ADMIN), iptables and agents under uids of their own; ' +
        'AGENT_NETWORK=open runs agents with unrestricted network access instead.',
    );
    this.name = 'AgentNetworkUnavailableError';
  }
}

/**
 * The host and port of `repoUrl` and every address its host resolves to now.
 * The worker resolves (the agent's uid has no DNS), opens those addresses with
 * `allowResolvedRemote`, and pins them for git with pinRemoteAddresses.
 */
export async function resolveRemote(repoUrl: string): Promise<ResolvedRemote> {
  const url = new URL(repoUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  if (net.isIP(host) !== 0) return { host, port, addresses: [host] };
  const found = await lookup(host, { all: true, verbatim: true });
  // An IPv4-mapped answer travels as IPv4, so it is the IPv4 table that must open it.
  const addresses = found.map(({ address }) => address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1'));
  return { host, port, addresses: [...new Set(addresses)] };
}

function refuse(reason: string): EgressSupport {
  return { ok: false, reason };
}

/** IPv6 rules are needed where the kernel has IPv6 at all (not booted with ipv6.disable=1). */
function hostFamilies(): IpFamily[] {
  return existsSync('/proc/net/if_inet6') ? [4, 6] : [4];
}

async function hasNetAdmin(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
  return hex !== undefined && (BigInt(`0x${hex}`) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `task` after every earlier one of this process. A restore is built from
 * a listing taken just before it (the hooks it deletes); another of our own
 * changes in between would make it delete a rule that is gone, failing the
 * whole transaction.
 */
function exclusive<T>(task: () => Promise<T>): Promise<T> {
  const result = queue.then(task, task);
  queue = result.catch(() => undefined);
  return result;
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(family: IpFamily, args: readonly string[]): Promise<Outcome> {
  return execIptables(BINARIES[family].rules, [...LOCK_WAIT, ...args]);
}

/** `run`, rejecting unless iptables exits 0; resolves with its stdout. */
async function mustRun(family: IpFamily, args: readonly string[]): Promise<string> {
  const outcome = await run(family, args);
  if (outcome.code !== 0) throw new Error(`${BINARIES[family].rules} ${args.join(' ')} failed (exit ${outcome.code}): ${outcome.stderr}`);
  return outcome.stdout;
}

/** Applies iptables-restore input in one transaction, keeping every rule it does not name (--noflush). */
async function mustRestore(family: IpFamily, script: string): Promise<void> {
  const binary = BINARIES[family].restore;
  const outcome = await execIptables(binary, [...LOCK_WAIT, '--noflush'], script);
  if (outcome.code !== 0) throw new Error(`${binary} failed (exit ${outcome.code}): ${outcome.stderr}\n${script}`);
}

/** Runs an iptables binary (argv, no shell); rejects only when it cannot be started. */
function execIptables(file: string, args: readonly string[], input?: string): Promise<Outcome> {
  // iptables lives in /usr/sbin, which an unprivileged PATH lacks; C for stable messages.
  const env = { PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`, LC_ALL: 'C' };
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code === 'string') reject(error);
      else resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr: stderr.trim() });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}
