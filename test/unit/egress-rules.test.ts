/**
 * Issue #12: the exact netfilter rules of AGENT_NETWORK=proxy-only, and the
 * git config that pins the remote's addresses. test/jobs/egress.test.ts runs
 * them against the real kernel.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  baseRuleSpecs,
  chainName,
  findChains,
  findHooks,
  hookProblem,
  hookSpec,
  installScript,
  probeScript,
  removalScript,
  remoteRuleSpec,
} from '../../src/isolation/egress-rules.js';
import { createGitEnvironment, pinnedResolveConfig, pinRemoteAddresses } from '../../src/git/git-env.js';

/** `iptables -S` of a host where a dead worker left uid 61001's chain, hooked twice, next to Docker's rules. */
const LEFTOVER_LISTING = [
  '-P INPUT ACCEPT',
  '-P OUTPUT ACCEPT',
  '-N ACW-AGENT-61001',
  '-N DOCKER',
  '-A OUTPUT -m owner --uid-owner 61001 -j ACW-AGENT-61001',
  '-A OUTPUT -m owner --uid-owner 61002 -j ACW-AGENT-61002',
  '-A OUTPUT -o lo -j ACCEPT',
  '-A OUTPUT -m owner --uid-owner 61001 -j ACW-AGENT-61001',
  '-A ACW-AGENT-61001 -p tcp -j REJECT --reject-with tcp-reset',
  '',
].join('\n');

describe('egress rules (issue #12)', () => {
  it('hooks each agent uid into a chain of its own', () => {
    assert.equal(chainName(61001), 'ACW-AGENT-61001');
    assert.deepEqual(hookSpec(61001), ['-m', 'owner', '--uid-owner', '61001', '-j', 'ACW-AGENT-61001']);
  });

  it('accepts TCP to the proxy on 127.0.0.1 and rejects everything else, fast', () => {
    assert.deepEqual(baseRuleSpecs(4, 8787), [
      ['-d', '127.0.0.1/32', '-p', 'tcp', '--dport', '8787', '-j', 'ACCEPT'],
      ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'],
    ]);
    // The proxy listens on IPv4 loopback only: IPv6 has nothing to accept.
    assert.deepEqual(baseRuleSpecs(6, 8787), [
      ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-j', 'REJECT', '--reject-with', 'icmp6-port-unreachable'],
    ]);
    assert.ok(!baseRuleSpecs(4, 8787).flat().includes('conntrack'), 'no ESTABLISHED accept: see egress-rules.ts');
  });

  it('opens a remote as exactly one address and port, in the right family', () => {
    assert.deepEqual(remoteRuleSpec({ address: '140.82.121.4', port: 443 }), {
      family: 4,
      spec: ['-d', '140.82.121.4/32', '-p', 'tcp', '--dport', '443', '-j', 'ACCEPT'],
    });
    assert.deepEqual(remoteRuleSpec({ address: '2606:50c0:8000::154', port: 443 }), {
      family: 6,
      spec: ['-d', '2606:50c0:8000::154/128', '-p', 'tcp', '--dport', '443', '-j', 'ACCEPT'],
    });
  });

  it('refuses anything that is not an address, a port or an agent uid, so no argv carries it', () => {
    assert.throws(() => remoteRuleSpec({ address: 'github.com', port: 443 }), /not an IP address/);
    assert.throws(() => remoteRuleSpec({ address: '1.2.3.4 -j ACCEPT', port: 443 }), /not an IP address/);
    assert.throws(() => remoteRuleSpec({ address: '1.2.3.4', port: 0 }), /not a TCP port/);
    assert.throws(() => baseRuleSpecs(4, 70_000), /not a TCP port/);
    assert.throws(() => chainName(0), /not an agent uid/, 'uid 0 would put the worker itself behind the chain');
    assert.throws(() => chainName(1.5), /not an agent uid/);
  });

  it('replaces a dead worker\'s chain and hooks in one transaction, keeping running jobs\' remotes', () => {
    const remote = remoteRuleSpec({ address: '10.1.2.3', port: 443 }).spec;
    const script = installScript(4, [61001, 61003], 8787, LEFTOVER_LISTING, (uid) => (uid === 61001 ? [remote] : []));
    assert.equal(
      script,
      [
        '*filter',
        ':ACW-AGENT-61001 - [0:0]',
        '-A ACW-AGENT-61001 -d 10.1.2.3/32 -p tcp --dport 443 -j ACCEPT',
        '-A ACW-AGENT-61001 -d 127.0.0.1/32 -p tcp --dport 8787 -j ACCEPT',
        '-A ACW-AGENT-61001 -p tcp -j REJECT --reject-with tcp-reset',
        '-A ACW-AGENT-61001 -j REJECT --reject-with icmp-port-unreachable',
        '-D OUTPUT -m owner --uid-owner 61001 -j ACW-AGENT-61001',
        '-D OUTPUT -m owner --uid-owner 61001 -j ACW-AGENT-61001',
        '-I OUTPUT 1 -m owner --uid-owner 61001 -j ACW-AGENT-61001',
        ':ACW-AGENT-61003 - [0:0]',
        '-A ACW-AGENT-61003 -d 127.0.0.1/32 -p tcp --dport 8787 -j ACCEPT',
        '-A ACW-AGENT-61003 -p tcp -j REJECT --reject-with tcp-reset',
        '-A ACW-AGENT-61003 -j REJECT --reject-with icmp-port-unreachable',
        '-I OUTPUT 1 -m owner --uid-owner 61003 -j ACW-AGENT-61003',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('removes only the named uids\' hooks and chains, and nothing when there are none', () => {
    assert.equal(
      removalScript([61001, 61003], LEFTOVER_LISTING),
      [
        '*filter',
        '-D OUTPUT -m owner --uid-owner 61001 -j ACW-AGENT-61001',
        '-D OUTPUT -m owner --uid-owner 61001 -j ACW-AGENT-61001',
        '-F ACW-AGENT-61001',
        '-X ACW-AGENT-61001',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.equal(removalScript([61003], LEFTOVER_LISTING), undefined);
  });

  it('probes with the same kinds of rules, for a uid nobody has', () => {
    assert.equal(
      probeScript(6, 'ACW-PROBE-42'),
      [
        '*filter',
        ':ACW-PROBE-42 - [0:0]',
        '-A ACW-PROBE-42 -p tcp -j REJECT --reject-with tcp-reset',
        '-A ACW-PROBE-42 -j REJECT --reject-with icmp6-port-unreachable',
        '-I OUTPUT 1 -m owner --uid-owner 4294967294 -j ACW-PROBE-42',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('reads hooks and chains from a listing, and notices a hook that is missing or comes too late', () => {
    assert.equal(findHooks(LEFTOVER_LISTING, 'ACW-AGENT-61001').length, 2);
    assert.deepEqual(findHooks(LEFTOVER_LISTING, 'ACW-AGENT-6100'), [], 'a chain name is matched whole');
    assert.deepEqual([...findChains(LEFTOVER_LISTING)], ['ACW-AGENT-61001', 'DOCKER']);
    // Another worker's hook may come first: it matches another uid only.
    assert.equal(hookProblem(LEFTOVER_LISTING, 61001), undefined);
    assert.equal(hookProblem(LEFTOVER_LISTING, 61002), undefined);
    assert.match(hookProblem(LEFTOVER_LISTING, 61003) ?? '', /no rule jumping to ACW-AGENT-61003/);
    const late = '-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -m owner --uid-owner 61001 -j ACW-AGENT-61001\n';
    assert.match(hookProblem(late, 61001) ?? '', /"-A OUTPUT -o lo -j ACCEPT" before the jump/);
  });
});

describe('pinning the git remote\'s addresses (issue #12)', () => {
  it('maps the remote\'s host and port to the resolved addresses for its URL, clearing the agent\'s own entries first', () => {
    const github = 'https://github.com/acme/widgets.git';
    assert.deepEqual(pinnedResolveConfig(github, ['140.82.121.4', '2606:50c0:8000::154']), [
      [`http.${github}.curloptResolve`, ''],
      [`http.${github}.curloptResolve`, 'github.com:443:140.82.121.4,[2606:50c0:8000::154]'],
    ]);
    assert.deepEqual(pinnedResolveConfig('http://Git.Example.Test:8080/a.git', ['127.0.0.1']), [
      ['http.http://Git.Example.Test:8080/a.git.curloptResolve', ''],
      ['http.http://Git.Example.Test:8080/a.git.curloptResolve', 'git.example.test:8080:127.0.0.1'],
    ]);
    assert.deepEqual(pinnedResolveConfig('http://127.0.0.1:8080/a.git', ['127.0.0.1']), [], 'an address needs no DNS');
    assert.deepEqual(pinnedResolveConfig('http://[::1]:8080/a.git', ['::1']), []);
  });

  it('adds the entries after the worker\'s own config, in both environments', () => {
    const env = createGitEnvironment({ homeDir: '/home/agent', repoUrl: 'https://github.com/acme/widgets.git', accessToken: 'tok' });
    const pinned = pinRemoteAddresses(env, 'https://github.com/acme/widgets.git', ['140.82.121.4']);
    for (const [before, after] of [
      [env.local, pinned.local],
      [env.network, pinned.network],
    ] as const) {
      const count = Number(before.GIT_CONFIG_COUNT);
      assert.equal(after.GIT_CONFIG_COUNT, String(count + 2));
      assert.equal(after[`GIT_CONFIG_KEY_${count}`], 'http.https://github.com/acme/widgets.git.curloptResolve');
      assert.equal(after[`GIT_CONFIG_VALUE_${count}`], '');
      assert.equal(after[`GIT_CONFIG_VALUE_${count + 1}`], 'github.com:443:140.82.121.4');
      for (let index = 0; index < count; index++) assert.equal(after[`GIT_CONFIG_VALUE_${index}`], before[`GIT_CONFIG_VALUE_${index}`]);
    }
    assert.deepEqual(pinned.secrets, env.secrets);
  });
});
