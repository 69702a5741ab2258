import net from 'node:net';

/**
 * The netfilter rules of AGENT_NETWORK=proxy-only, as argv arrays and
 * iptables-restore text. Pure, so test/unit/egress-rules.test.ts pins them
 * down exactly; running them and probing the host is egress.ts's job.
 *
 * Per agent uid and address family, in the filter table:
 *
 *   -I OUTPUT 1 -m owner --uid-owner U -j ACW-AGENT-U
 *   -A ACW-AGENT-U -d 127.0.0.1/32 -p tcp --dport PROXY -j ACCEPT      (IPv4 only)
 *   -A ACW-AGENT-U -p tcp -j REJECT --reject-with tcp-reset
 *   -A ACW-AGENT-U -j REJECT --reject-with icmp-port-unreachable      (icmp6-… for IPv6)
 *
 * and, while a job runs, its git remote on top of the chain:
 *
 *   -I ACW-AGENT-U 1 -d ADDR/32 -p tcp --dport PORT -j ACCEPT
 *
 * There is deliberately no `--ctstate ESTABLISHED,RELATED` ACCEPT. In OUTPUT
 * it would only ever match the agent's answers on connections opened by
 * somebody else — a listener the agent opens on 0.0.0.0 would let anyone who
 * can connect in read from it — and a UDP tuple a worker's DNS query left in
 * conntrack (source ports are listed in /proc/net/udp) could be reused by the
 * agent for ~30 s. Everything the agent itself may open matches an ACCEPT
 * above on every packet, so nothing legitimate needs it.
 */

export type IpFamily = 4 | 6;

/** Every chain this worker creates starts with this: `iptables -S | grep ACW-` shows them all. */
export const CHAIN_PREFIX = 'ACW-AGENT-';
/** The throw-away chain of `probeEgressSupport`. */
export const PROBE_CHAIN_PREFIX = 'ACW-PROBE-';
/** The model proxy listens here (src/model-proxy); IPv6 has no proxy rule. */
export const PROXY_ADDRESS = '127.0.0.1';

export interface RemoteAddress {
  /** A literal IPv4 or IPv6 address, never a host name: the rule must not depend on DNS. */
  address: string;
  port: number;
}

export function chainName(uid: number): string {
  return `${CHAIN_PREFIX}${checkUid(uid)}`;
}

/** The OUTPUT rule that sends every packet of `uid`'s sockets through its chain. */
export function hookSpec(uid: number, chain = chainName(uid)): string[] {
  return ['-m', 'owner', '--uid-owner', String(checkUid(uid)), '-j', chain];
}

/** The chain's fixed rules, in order: the proxy (IPv4), then REJECT for everything else. */
export function baseRuleSpecs(family: IpFamily, proxyPort: number): string[][] {
  const proxy = ['-d', `${PROXY_ADDRESS}/32`, '-p', 'tcp', '--dport', String(checkPort(proxyPort)), '-j', 'ACCEPT'];
  return family === 4 ? [proxy, ...rejectSpecs(family)] : rejectSpecs(family);
}

/**
 * A reset for TCP and "port unreachable" for the rest make a blocked connect or
 * DNS query fail at once (ECONNREFUSED), where DROP would leave the agent's
 * tools waiting for timeouts.
 */
export function rejectSpecs(family: IpFamily): string[][] {
  const unreachable = family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  return [
    ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['-j', 'REJECT', '--reject-with', unreachable],
  ];
}

/** The rule that lets the agent reach one address:port over TCP, and the family whose table holds it. */
export function remoteRuleSpec(remote: RemoteAddress): { family: IpFamily; spec: string[] } {
  const family = ipFamily(remote.address);
  const prefix = family === 4 ? 32 : 128;
  return {
    family,
    spec: ['-d', `${remote.address}/${prefix}`, '-p', 'tcp', '--dport', String(checkPort(remote.port)), '-j', 'ACCEPT'],
  };
}

/**
 * iptables-restore input (used with --noflush) that (re)creates the chains of
 * `uids` and hooks each at the top of OUTPUT, in one transaction: there is no
 * moment where a hook points at an empty chain, which would let the agent out.
 * `listing` is `iptables -S` from just before; a `:CHAIN` line flushes a chain
 * a dead worker left, and its old hooks are removed so exactly one remains.
 * `remotes` are the remote rules of running jobs, kept when a chain is rebuilt.
 */
export function installScript(
  family: IpFamily,
  uids: readonly number[],
  proxyPort: number,
  listing: string,
  remotes: (uid: number) => readonly string[][] = () => [],
): string {
  const lines = ['*filter'];
  for (const uid of uids) {
    const chain = chainName(uid);
    lines.push(`:${chain} - [0:0]`);
    for (const spec of [...remotes(uid), ...baseRuleSpecs(family, proxyPort)]) lines.push(['-A', chain, ...spec].join(' '));
    for (const hook of findHooks(listing, chain)) lines.push(hook.replace(/^-A /, '-D '));
    lines.push(['-I', 'OUTPUT', '1', ...hookSpec(uid)].join(' '));
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** iptables-restore input that removes the hooks and chains of `uids` found in `listing`; undefined when there are none. */
export function removalScript(uids: readonly number[], listing: string): string | undefined {
  return removeChainsScript(uids.map(chainName), listing);
}

/** The same for chains named explicitly (the probe's). */
export function removeChainsScript(chains: readonly string[], listing: string): string | undefined {
  const existing = findChains(listing);
  const lines: string[] = [];
  for (const chain of chains) {
    for (const hook of findHooks(listing, chain)) lines.push(hook.replace(/^-A /, '-D '));
    if (existing.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
  }
  return lines.length === 0 ? undefined : ['*filter', ...lines, 'COMMIT', ''].join('\n');
}

/** The probe's chain: the same kinds of rules as an agent's, for a uid nobody has. */
export function probeScript(family: IpFamily, chain: string): string {
  return [
    '*filter',
    `:${chain} - [0:0]`,
    ...rejectSpecs(family).map((spec) => ['-A', chain, ...spec].join(' ')),
    ['-I', 'OUTPUT', '1', ...hookSpec(PROBE_UID, chain)].join(' '),
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * (uid_t)-2, the highest valid uid, which no account uses. The probe's chain
 * exists for milliseconds before the worker runs any job, so even an
 * AGENT_UID_RANGE that reaches it would lose nothing.
 */
export const PROBE_UID = 4_294_967_294;

/** The `-A OUTPUT …` lines of an `iptables -S` listing that jump to `chain`, as printed (and so re-parseable). */
export function findHooks(listing: string, chain: string): string[] {
  return listing.split('\n').filter((line) => line.startsWith('-A OUTPUT ') && line.trimEnd().endsWith(` -j ${chain}`));
}

/** The user-defined chains of an `iptables -S` listing. */
export function findChains(listing: string): Set<string> {
  const chains = new Set<string>();
  for (const line of listing.split('\n')) {
    const match = /^-N (\S+)$/.exec(line.trim());
    if (match) chains.add(match[1]!);
  }
  return chains;
}

/**
 * Why `uid`'s hook is not where it must be in an `iptables -S` listing (missing,
 * or after a rule that could accept the agent's packets first), or undefined.
 * Other ACW hooks may come first: they match other uids only.
 */
export function hookProblem(listing: string, uid: number): string | undefined {
  const chain = chainName(uid);
  const output = listing.split('\n').filter((line) => line.startsWith('-A OUTPUT '));
  const position = output.findIndex((line) => line.trimEnd().endsWith(` -j ${chain}`));
  if (position < 0) return `OUTPUT has no rule jumping to ${chain}`;
  const before = output.slice(0, position).find((line) => !/ -j ACW-(AGENT|PROBE)-\d+$/.test(line.trimEnd()));
  return before === undefined ? undefined : `OUTPUT holds "${before}" before the jump to ${chain}`;
}

export function ipFamily(address: string): IpFamily {
  const version = net.isIP(address);
  if (version === 0) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  return version as IpFamily;
}

/** uid 0 would put the worker itself behind the chain; the argv must never carry anything but digits. */
function checkUid(uid: number): number {
  if (!Number.isInteger(uid) || uid < 1 || uid > PROBE_UID) throw new RangeError(`not an agent uid: ${uid}`);
  return uid;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new RangeError(`not a TCP port: ${port}`);
  return port;
}
