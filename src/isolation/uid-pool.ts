import { readFile } from 'node:fs/promises';
import net from 'node:net';

/**
 * Claims agent uids for this worker, one per job slot. Several workers on one
 * host (and the test suite's many workers) draw from the same range, so each
 * uid is claimed by binding an abstract Unix socket named after it: the kernel
 * lets one process hold a name, and frees it the moment that process exits —
 * even through SIGKILL, and a zombie holds none — so a claim can never go stale
 * and never needs a liveness guess. (Abstract sockets live in the network
 * namespace: workers in separate containers never see each other's, and need
 * not, since they share no pid namespace either.)
 */

export interface UidRange {
  first: number;
  last: number;
}

/** Claims `count` uids from `range` that no other worker holds and no account uses. */
export async function claimUids(range: UidRange, count: number): Promise<number[]> {
  const taken = await accountIds();
  const claimed: number[] = [];
  for (let uid = range.first; uid <= range.last && claimed.length < count; uid++) {
    if (taken.has(uid)) continue;
    if (await claim(uid)) claimed.push(uid);
  }
  if (claimed.length < count) {
    throw new Error(
      `AGENT_UID_RANGE ${range.first}-${range.last} has ${claimed.length} free uids for ${count} job slots ` +
        '(uids held by other workers on this host, or used by accounts, are skipped)',
    );
  }
  return claimed;
}

/** Held for the life of the process; never closed, so the claim ends only with it. */
const held: net.Server[] = [];

function claim(uid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ path: `\0ai-coding-worker/agent-uid/${uid}` }, () => {
      server.unref();
      held.push(server);
      resolve(true);
    });
  });
}

/**
 * Uids and gids of the accounts and groups in /etc/passwd and /etc/group: an agent
 * must never run as somebody's uid (it would own their files) or in their group.
 */
async function accountIds(): Promise<Set<number>> {
  const ids = new Set<number>();
  for (const file of ['/etc/passwd', '/etc/group']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const id = Number(line.split(':')[2]);
      if (line !== '' && Number.isInteger(id)) ids.add(id);
    }
  }
  return ids;
}
