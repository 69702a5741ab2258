/**
 * Finds and stops every process an agent run started, by an environment marker rather
 * than a process group: agent CLIs put the commands they run in new sessions (PTYs,
 * sandboxes), so a group kill misses them, and a daemonized grandchild is reparented
 * away from the tree. The marker (e.g. the run's private `CODEX_HOME=...`) is inherited
 * by all of them. Linux only (`/proc`); elsewhere nothing is found.
 */
import { readdir, readFile } from 'node:fs/promises';

interface ProcInfo {
  pid: number;
  ppid: number;
  marked: boolean;
}

/** Pids of the processes whose environment holds `name=value`, plus all their descendants. */
export async function findMarkedProcesses(name: string, value: string): Promise<number[]> {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const infos = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readProc(Number(e), needle)));
  const procs = infos.filter((p): p is ProcInfo => p !== undefined && p.pid !== process.pid);
  const found = new Set(procs.filter((p) => p.marked).map((p) => p.pid));
  // Descendants that cleared their environment still belong to the run.
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found];
}

async function readProc(pid: number, needle: Buffer): Promise<ProcInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    const ppid = Number(fields[1]);
    let marked = false;
    try {
      const environ = await readFile(`/proc/${pid}/environ`);
      marked = Buffer.concat([Buffer.from([0]), environ]).includes(needle);
    } catch {
      // EACCES for other users' processes: they are not ours.
    }
    return { pid, ppid, marked };
  } catch {
    return undefined;
  }
}

/**
 * SIGTERM every marked process, wait up to `graceMs` for them to go, then SIGKILL the rest
 * (rescanning, so children forked meanwhile go too). Resolves once none is left or after
 * a last SIGKILL round. Safe to call when nothing runs.
 */
export async function stopMarkedProcesses(name: string, value: string, graceMs: number): Promise<void> {
  let pids = await findMarkedProcesses(name, value);
  if (pids.length === 0) return;
  signalAll(pids, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.length > 0 && Date.now() < deadline) {
    await delay(100);
    pids = await findMarkedProcesses(name, value);
  }
  for (let round = 0; round < 5 && pids.length > 0; round++) {
    signalAll(pids, 'SIGKILL');
    await delay(50);
    pids = await findMarkedProcesses(name, value);
  }
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: already gone.
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
