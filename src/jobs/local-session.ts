import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../isolation/processes.js';
import type { AgentUser } from '../isolation/types.js';
import { stopMarkedProcesses } from '../providers/process-sweep.js';

/**
 * Where a session lives on this worker while it runs:
 * `<WORKSPACE_DIR>/sessions/<id>/{workspace,state}`, plus a private home per
 * job under `<WORKSPACE_DIR>/homes/` that holds credentials and is removed when
 * the job ends.
 */
export interface LocalSessionPaths {
  /** Archived with the session. */
  root: string;
  workspace: string;
  /** The agent's own state (transcripts), archived with the session. */
  state: string;
  /** Records which stored snapshot the local copy matches. */
  snapshotMarker: string;
  /** Records the agent uid the whole workspace belongs to. */
  ownerMarker: string;
}

export function localSessionPaths(workspaceDir: string, sessionId: string): LocalSessionPaths {
  const root = path.join(workspaceDir, 'sessions', sessionId);
  return {
    root,
    workspace: path.join(root, 'workspace'),
    state: path.join(root, 'state'),
    snapshotMarker: path.join(root, '.snapshot'),
    ownerMarker: path.join(root, '.owner'),
  };
}

export async function ensureLocalSession(paths: LocalSessionPaths): Promise<void> {
  await fs.mkdir(paths.workspace, { recursive: true, mode: 0o700 });
  await fs.mkdir(paths.state, { recursive: true, mode: 0o700 });
}

/** True when the local copy is the snapshot the store holds, so it need not be restored. */
export async function isLocalCopyCurrent(paths: LocalSessionPaths, snapshotId: string | undefined): Promise<boolean> {
  if (!snapshotId) return false;
  const marker = await fs.readFile(paths.snapshotMarker, 'utf8').catch(() => undefined);
  return marker === snapshotId;
}

export async function markSnapshot(paths: LocalSessionPaths, snapshotId: string): Promise<void> {
  await fs.writeFile(paths.snapshotMarker, snapshotId, { mode: 0o600 });
}

/**
 * Lets the job's agent reach its workspace: the workspace becomes the agent's
 * uid's (the whole tree, only when it last belonged to another uid or came out
 * of an archive, since everything written into it afterwards is the agent's or
 * its git's own), and the session folder above it becomes passable (0711).
 */
export async function openSessionFolder(paths: LocalSessionPaths, agentUser: AgentUser): Promise<void> {
  if (!agentUser.isolated) return;
  const owner = await fs.readFile(paths.ownerMarker, 'utf8').catch(() => undefined);
  if (owner !== String(agentUser.uid)) {
    await fs.rm(paths.ownerMarker, { force: true });
    await agentUser.handOver(paths.workspace);
    await fs.writeFile(paths.ownerMarker, String(agentUser.uid), { mode: 0o600 });
  }
  await fs.chmod(paths.root, 0o711);
}

/** An idle session's folder is closed to every agent, including later ones of the same slot uid. */
export async function closeSessionFolder(paths: LocalSessionPaths): Promise<void> {
  await fs.chmod(paths.root, 0o700).catch(() => {});
}

/** Creates a fresh private home (mode 0700, the agent's) for one job, with a private TMPDIR. */
export async function createPrivateHome(workspaceDir: string, agentUser: AgentUser): Promise<string> {
  const homes = path.join(workspaceDir, 'homes');
  await fs.mkdir(homes, { recursive: true, mode: 0o711 });
  // The pid in the name tells a later start-up whether the home's worker is still alive.
  const home = path.join(homes, `${process.pid}-${randomUUID()}`);
  await fs.mkdir(home, { mode: 0o700 });
  await fs.mkdir(privateTmpDir(home), { mode: 0o700 });
  // Two empty folders: cheaper to re-own one by one than through chown -R.
  await agentUser.adoptPath(homes, privateTmpDir(home));
  return home;
}

/** The job's TMPDIR: /tmp is shared by every job, this is not. */
export function privateTmpDir(home: string): string {
  return path.join(home, 'tmp');
}

export async function removePrivateHome(home: string): Promise<void> {
  await fs.rm(home, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * At start-up: private homes left by a worker that was killed still hold
 * credentials, and the agents started from them may still run. Stops those
 * processes (found by their HOME) and removes the homes.
 */
export async function removeStaleHomes(workspaceDir: string): Promise<number> {
  const homes = path.join(workspaceDir, 'homes');
  const entries = await fs.readdir(homes).catch(() => [] as string[]);
  let removed = 0;
  for (const name of entries) {
    // Another live worker sharing this WORKSPACE_DIR keeps its homes (and its running agents).
    // A killed worker that nobody reaped yet is a zombie: dead, whatever kill(pid, 0) says.
    const pid = Number.parseInt(name, 10);
    if (pid !== process.pid && (await isProcessAlive(pid))) continue;
    const home = path.join(homes, name);
    await stopMarkedProcesses('HOME', home, 1_500);
    await removePrivateHome(home);
    removed++;
  }
  return removed;
}
