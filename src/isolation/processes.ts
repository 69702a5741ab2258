import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * Process facts read from `/proc` (Linux). Zombies count as gone: they run
 * nothing, hold no files or sockets, and only wait for a parent to reap them.
 * The scans read synchronously: a few hundred small reads take a few ms that
 * way, several times less than through the thread pool.
 */

/** Pids of the live (non-zombie) processes whose real uid is `uid`. */
export function processesOfUser(uid: number): number[] {
  return listPids().filter((pid) => readStatus(pid)?.uid === uid);
}

/** The uids, among `uids`, that have at least one live process. */
export function usersWithProcesses(uids: ReadonlySet<number>): Set<number> {
  const found = new Set<number>();
  for (const pid of listPids()) {
    const status = readStatus(pid);
    if (status && uids.has(status.uid)) found.add(status.uid);
  }
  return found;
}

/** True when `pid` names a running process; false for a zombie or a pid that is gone. */
export async function isProcessAlive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return processExists(pid);
  // The command name (field 2) may hold spaces and parentheses: the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

function listPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number);
  } catch {
    return [];
  }
}

function readStatus(pid: number): { uid: number } | undefined {
  // `status` shows the real uid even for processes that made themselves non-dumpable,
  // whose /proc folder is then owned by root.
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  if (/^State:\s+[ZX]/m.test(text)) return undefined;
  const uid = /^Uid:\s+(\d+)/m.exec(text)?.[1];
  return uid === undefined ? undefined : { uid: Number(uid) };
}

/** Where /proc is missing (not Linux): signal 0 tells whether the pid exists. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
