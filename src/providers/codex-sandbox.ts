import type { ThreadEvent } from '@openai/codex-sdk';
import { invalidField } from '../errors/worker-error.js';
import type { ProviderOptions } from './types.js';

/**
 * Codex's own sandbox for the commands its agent runs. `workspace-write` (the
 * default) uses bubblewrap, which needs user namespaces: Docker's default
 * seccomp profile denies them, so in such a container every command fails with
 * "bwrap: No permissions to create a new namespace" — which Codex hands the
 * model as the command's output, and the turn still "completes" (issue #11).
 * Hence CODEX_SANDBOX_MODE, and a run whose sandbox failed is an error.
 */
export const SANDBOX_MODES = ['read-only', 'workspace-write', 'danger-full-access'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/**
 * The request's `sandboxMode`, else `danger-full-access` when it asks to skip
 * permissions, else the worker's default (CODEX_SANDBOX_MODE), else `workspace-write`.
 */
export function resolveSandboxMode(options: ProviderOptions, workerDefault: unknown): SandboxMode {
  const { sandboxMode, skipPermissions } = options;
  if (sandboxMode !== undefined) {
    if (!isSandboxMode(sandboxMode)) {
      throw invalidField('providerOptions.sandboxMode', `sandboxMode must be one of ${SANDBOX_MODES.join(', ')}.`);
    }
    return sandboxMode;
  }
  if (skipPermissions === true) return 'danger-full-access';
  return isSandboxMode(workerDefault) ? workerDefault : 'workspace-write';
}

function isSandboxMode(value: unknown): value is SandboxMode {
  return typeof value === 'string' && (SANDBOX_MODES as readonly string[]).includes(value);
}

/** What bubblewrap prints when it cannot set up the sandbox (not when the command itself fails). */
const SANDBOX_SETUP_FAILURE = /^bwrap: (No permissions to create a new namespace|Creating new namespace failed|setting up uid map|.*Operation not permitted)/m;

/** The sandbox's own failure in a finished command, if that is why the command failed. */
export function sandboxFailureOf(event: ThreadEvent): string | undefined {
  if (event.type !== 'item.completed' || event.item.type !== 'command_execution') return undefined;
  const match = SANDBOX_SETUP_FAILURE.exec(event.item.aggregated_output ?? '');
  if (!match) return undefined;
  const line = event.item.aggregated_output.slice(match.index).split('\n')[0]!.trim();
  return (
    `Codex's sandbox could not run the agent's commands (${line.slice(0, 300)}). This host does not allow ` +
    'the user namespaces its workspace-write sandbox needs (e.g. Docker\'s default seccomp profile): allow them, ' +
    'or set CODEX_SANDBOX_MODE=danger-full-access (the worker\'s own isolation still applies).'
  );
}
