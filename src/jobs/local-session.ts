import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
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
}

export function localSessionPaths(workspaceDir: string, sessionId: string): LocalSessionPaths {
  const root = path.join(workspaceDir, 'sessions', sessionId);
  return {
    root,
    workspace: path.join(root, 'workspace'),
    state: path.join(root, 'state'),
    snapshotMarker: path.join(root, '.snapshot'),
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

/** Creates a fresh private home (mode 0700) for one job. */
export async function createPrivateHome(workspaceDir: string): Promise<string> {
  const homes = path.join(workspaceDir, 'homes');
  await fs.mkdir(homes, { recursive: true, mode: 0o711 });
  // The pid in the name tells a later start-up whether the home's worker is still alive.
  const home = path.join(homes, `${process.pid}-${randomUUID()}`);
  await fs.mkdir(home, { mode: 0o700 });
  return home;
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
  // Another live worker sharing this WORKSPACE_DIR keeps its homes (and its running agents).
  const stale = entries.filter((name) => !isOtherLiveProcess(Number.parseInt(name, 10)));
  for (const name of stale) {
    const home = path.join(homes, name);
    await stopMarkedProcesses('HOME', home, 1_500);
    await removePrivateHome(home);
  }
  return stale.length;
}

function isOtherLiveProcess(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
