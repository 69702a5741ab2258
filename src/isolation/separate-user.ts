import { createHash } from 'node:crypto';
import { chmod, lchown, lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { processesOfUser } from './processes.js';
import { runCommand } from './run-command.js';
import type { AgentUser } from './types.js';

/** util-linux's setpriv switches uid, gid and groups and sets no_new_privs in one exec. */
export const SETPRIV = 'setpriv';

/** How often `killAll` sweeps before it gives up on processes stuck in the kernel. */
const KILL_ROUNDS = 10;
/** Up to this many entries, `handOver` re-owns a tree itself instead of starting chown(1). */
const SMALL_TREE_ENTRIES = 200;

/**
 * A job identity of its own: every command runs through `setpriv` as `uid:gid`
 * with no supplementary groups, no capabilities (nothing inheritable, and the
 * bounding set emptied where the worker may do that) and `no_new_privs`, so
 * no setuid binary or file capability can lift it back up.
 */
export class SeparateUser implements AgentUser {
  readonly isolated = true;
  readonly gid: number;
  private readonly privArgs: string[];
  private readonly launchers = new Map<string, Promise<string>>();
  /** Counts the commands handed out; `killAll` skips its scan when none came since the last clean one. */
  private started = 1;
  private sweptUpTo = 0;

  constructor(
    readonly uid: number,
    /** A folder only the worker can read, where `launcher` writes its scripts. */
    private readonly launcherDir: string,
    canDropBoundingSet: boolean,
  ) {
    this.gid = uid;
    this.privArgs = [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      '--no-new-privs',
      '--inh-caps=-all',
      ...(canDropBoundingSet ? ['--bounding-set=-all'] : []),
    ];
  }

  command(command: string, args: readonly string[]): { command: string; args: string[] } {
    this.started++;
    return this.asUser(command, args);
  }

  launcher(target: string): Promise<string> {
    this.started++;
    let made = this.launchers.get(target);
    if (!made) {
      made = this.writeLauncher(target);
      this.launchers.set(target, made);
      made.catch(() => this.launchers.delete(target));
    }
    return made;
  }

  async handOver(dir: string): Promise<void> {
    // A small tree (a fresh home, a new workspace) is re-owned from here: a chown process
    // costs ~5 ms to start. A large one (a restored workspace) goes to chown(1), which
    // walks it in C without following symlinks: ~35 ms for 5,000 files.
    const small = await listSmallTree(dir, SMALL_TREE_ENTRIES);
    if (small) {
      for (const entry of small) await lchown(entry, this.uid, this.gid);
      return;
    }
    const { code, stderr } = await runCommand('chown', ['-R', '--no-dereference', `${this.uid}:${this.gid}`, '--', dir]);
    if (code !== 0) throw new Error(`chown failed (exit ${code}): ${stderr}`);
  }

  async adoptPath(base: string, target: string): Promise<void> {
    const relative = path.relative(base, target);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return;
    let current = base;
    for (const part of relative.split(path.sep)) {
      current = path.join(current, part);
      const stats = await lstat(current).catch(() => undefined);
      if (!stats) return;
      if (stats.uid !== this.uid) await lchown(current, this.uid, this.gid);
    }
  }

  async killAll(): Promise<void> {
    const started = this.started;
    if (this.sweptUpTo === started) return;
    for (let round = 0; round < KILL_ROUNDS; round++) {
      if (processesOfUser(this.uid).length === 0) {
        this.sweptUpTo = started;
        return;
      }
      // kill(-1) from a process of this uid reaches every process of the uid, and the
      // kernel walks the task list under a lock that fork() also takes: nothing forked
      // meanwhile escapes. The calling shell is the one it leaves out. The shell's own
      // `kill`, because slim images have no procps.
      const { command, args } = this.asUser('/bin/sh', ['-c', 'kill -s KILL -- -1']);
      await runCommand(command, args);
      await delay(20 * (round + 1));
    }
  }

  private asUser(command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: SETPRIV, args: [...this.privArgs, '--', command, ...args] };
  }

  private async writeLauncher(target: string): Promise<string> {
    await mkdir(this.launcherDir, { recursive: true, mode: 0o700 });
    const name = `${this.uid}-${createHash('sha256').update(target).digest('hex').slice(0, 16)}`;
    const file = path.join(this.launcherDir, name);
    const argv = [SETPRIV, ...this.privArgs, '--', target].map(shellQuote).join(' ');
    await writeFile(file, `#!/bin/sh\nexec ${argv} "$@"\n`, { mode: 0o700 });
    await chmod(file, 0o700);
    return file;
  }
}

/** `dir` and everything below it (symlinks not followed), or undefined once there are more than `limit`. */
async function listSmallTree(dir: string, limit: number): Promise<string[] | undefined> {
  const found = [dir];
  const folders = [dir];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const entryPath = path.join(folder, entry.name);
      found.push(entryPath);
      if (entry.isDirectory()) folders.push(entryPath);
      if (found.length > limit) return undefined;
    }
  }
  return found;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
