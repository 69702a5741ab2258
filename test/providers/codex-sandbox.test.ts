import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ThreadEvent } from '@openai/codex-sdk';
import { loadConfig } from '../../src/config/env.js';
import { WorkerError } from '../../src/errors/worker-error.js';
import { resolveSandboxMode, sandboxFailureOf } from '../../src/providers/codex-sandbox.js';

/** A finished command as the Codex SDK reports it. */
function commandDone(output: string, exitCode: number): ThreadEvent {
  return {
    type: 'item.completed',
    item: { id: 'item_1', type: 'command_execution', command: 'bash -lc ls', aggregated_output: output, exit_code: exitCode, status: 'failed' },
  } as ThreadEvent;
}

describe("Codex's sandbox (issue #11)", () => {
  it('takes the request\'s sandboxMode, then skipPermissions, then CODEX_SANDBOX_MODE, then workspace-write', () => {
    assert.equal(resolveSandboxMode({}, undefined), 'workspace-write');
    assert.equal(resolveSandboxMode({}, 'danger-full-access'), 'danger-full-access');
    assert.equal(resolveSandboxMode({ skipPermissions: true }, 'read-only'), 'danger-full-access');
    assert.equal(resolveSandboxMode({ sandboxMode: 'read-only' }, 'danger-full-access'), 'read-only');
    assert.throws(() => resolveSandboxMode({ sandboxMode: 'none' }, undefined), WorkerError);
    assert.deepEqual(loadConfig({ CODEX_SANDBOX_MODE: 'danger-full-access' }).providerDefaults, { codex: { sandboxMode: 'danger-full-access' } });
    assert.deepEqual(loadConfig({}).providerDefaults, {});
    assert.throws(() => loadConfig({ CODEX_SANDBOX_MODE: 'off' }));
  });

  it('tells a sandbox that could not start (Docker\'s default seccomp) from a command that failed by itself', () => {
    // What a workspace-write command printed in a container under Docker's default seccomp profile.
    const denied = commandDone(
      'bwrap: No permissions to create a new namespace, likely because the kernel does not allow non-privileged user namespaces.\n',
      1,
    );
    const failure = sandboxFailureOf(denied);
    assert.ok(failure?.includes('No permissions to create a new namespace'));
    assert.match(failure!, /CODEX_SANDBOX_MODE=danger-full-access/);
    assert.equal(sandboxFailureOf(commandDone('ls: cannot access \'x\': No such file or directory\n', 2)), undefined);
    assert.equal(sandboxFailureOf(commandDone('echo "bwrap: is a program"\nbwrap: is a program\n', 0)), undefined);
    assert.equal(sandboxFailureOf({ type: 'turn.started' } as ThreadEvent), undefined);
  });
});
