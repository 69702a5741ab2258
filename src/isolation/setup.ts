import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { usersWithProcesses } from './processes.js';
import { runCommand } from './run-command.js';
import { SeparateUser, SETPRIV } from './separate-user.js';
import type { AgentUser, IsolationStatus } from './types.js';
import { claimUids, type UidRange } from './uid-pool.js';
import { WorkerUser } from './worker-user.js';

export type IsolationSetting = 'auto' | 'required' | 'off';

/**
 * The capabilities the worker needs to run agents under their own uids, by bit:
 * switch uid and gid (SETUID, SETGID), signal the agent's processes (KILL), give
 * workspaces and homes to the agent's uid (CHOWN), and archive, restore and
 * clean up what the agent wrote (DAC_OVERRIDE). Documented in README.md.
 */
export const REQUIRED_CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
};
const CAP_SETPCAP = 8;

export interface IsolationInput {
  setting: IsolationSetting;
  uidRange: UidRange;
  slots: number;
  workspaceDir: string;
  logger: Logger;
}

export interface Isolation {
  status: IsolationStatus;
  /** One identity per job slot. */
  users: AgentUser[];
}

/** Thrown when `AGENT_ISOLATION=required` and the worker cannot switch uids here. */
export class IsolationUnavailableError extends Error {
  constructor(reason: string) {
    super(`AGENT_ISOLATION=required, but agents cannot run under their own uid here: ${reason}`);
    this.name = 'IsolationUnavailableError';
  }
}

/**
 * Decides how agents run: under uids of their own where the worker can switch
 * uids, else (`auto`) as the worker's user with a warning, or (`required`) not
 * at all. With isolation it also lays out WORKSPACE_DIR so the agents can reach
 * their own folders and list nobody's, and stops processes a killed worker left
 * running under the uids it claims.
 */
export async function setUpIsolation(input: IsolationInput): Promise<Isolation> {
  if (input.setting === 'off') return unisolated(input.slots, 'AGENT_ISOLATION=off');
  const capabilities = await effectiveCapabilities();
  let reason = whyUidsCannotSwitch(capabilities);
  if (reason === undefined) {
    try {
      return await isolate(input, capabilities);
    } catch (error) {
      reason = (error as Error).message;
    }
  }
  if (input.setting === 'required') throw new IsolationUnavailableError(reason);
  input.logger.warn(
    { reason },
    "agents run as the worker's own user and can read whatever it can (AGENT_ISOLATION=required refuses to start instead)",
  );
  return unisolated(input.slots, reason);
}

function unisolated(slots: number, reason: string): Isolation {
  return { status: { mode: 'none', reason }, users: Array.from({ length: slots }, () => new WorkerUser()) };
}

async function isolate(input: IsolationInput, capabilities: bigint): Promise<Isolation> {
  const canDropBoundingSet = (capabilities & (1n << BigInt(CAP_SETPCAP))) !== 0n;
  await layOutWorkspaceDir(input.workspaceDir);
  const uids = await claimUids(input.uidRange, input.slots);
  const launcherDir = path.join(input.workspaceDir, 'launchers');
  const users = uids.map((uid) => new SeparateUser(uid, launcherDir, canDropBoundingSet));
  await probe(users[0]!, path.join(input.workspaceDir, 'sessions'));

  // A worker killed with SIGKILL left its agents running under uids that are free again.
  const leftovers = usersWithProcesses(new Set(uids));
  for (const user of users.filter((candidate) => leftovers.has(candidate.uid))) await user.killAll();
  if (leftovers.size > 0) input.logger.warn({ uids: [...leftovers] }, 'stopped agent processes left by an earlier worker');
  return { status: { mode: 'uid', uids }, users };
}

/** Why this process cannot start agents under other uids, or undefined when it can. */
function whyUidsCannotSwitch(capabilities: bigint): string | undefined {
  if (process.platform !== 'linux') return `uid switching is implemented for Linux only (this is ${process.platform})`;
  const missing = Object.entries(REQUIRED_CAPABILITIES)
    .filter(([, bit]) => (capabilities & (1n << BigInt(bit))) === 0n)
    .map(([name]) => name);
  if (missing.length > 0) {
    return `the worker (uid ${process.getuid?.()}) lacks ${missing.join(', ')}; run it as root with at least ${Object.keys(REQUIRED_CAPABILITIES).join(', ')}`;
  }
  return undefined;
}

async function effectiveCapabilities(): Promise<bigint> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
}

/**
 * WORKSPACE_DIR, `sessions/` and `homes/` may be passed through but not listed
 * (0711), so an agent reaches its own workspace and home by path and learns no
 * other session's name; each session's folder stays 0700 while it is idle.
 */
async function layOutWorkspaceDir(workspaceDir: string): Promise<void> {
  await mkdir(workspaceDir, { recursive: true, mode: 0o711 });
  await chmod(workspaceDir, 0o711);
  for (const name of ['sessions', 'homes']) {
    await mkdir(path.join(workspaceDir, name), { recursive: true, mode: 0o711 });
    await chmod(path.join(workspaceDir, name), 0o711);
  }
}

/** Switches to the agent's uid for real once: catches seccomp, LSMs or a private parent folder. */
async function probe(user: AgentUser, reachable: string): Promise<void> {
  const { command, args } = user.command('test', ['-x', reachable]);
  const { code, stderr } = await runCommand(command, args).catch((error: Error) => {
    throw new Error(`${SETPRIV} could not be run: ${error.message}`);
  });
  if (code === 0) return;
  if (stderr !== '') throw new Error(`switching to uid ${user.uid} failed: ${stderr}`);
  throw new Error(`uid ${user.uid} cannot reach ${reachable}: a folder above WORKSPACE_DIR is not searchable by other users`);
}
