import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { Lease } from './types.js';

/** What a lease object or file holds. `token` changes on every write, so a stale holder can tell it lost. */
export interface LeaseRecord {
  owner: string;
  token: string;
  expiresAt: number;
  host: string;
}

export function newLeaseRecord(owner: string, ttlMs: number): LeaseRecord {
  return { owner, token: randomUUID(), expiresAt: Date.now() + ttlMs, host: os.hostname() };
}

/** A record that cannot be parsed counts as expired, so a garbled lease never locks a session forever. */
export function parseLeaseRecord(text: string): LeaseRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LeaseRecord>;
    if (typeof value.token !== 'string' || typeof value.expiresAt !== 'number') return undefined;
    return value as LeaseRecord;
  } catch {
    return undefined;
  }
}

export function isLive(record: LeaseRecord | undefined): boolean {
  return record !== undefined && record.expiresAt > Date.now();
}

const LEASE = 'lease.json';
/** Markers older than this were left by a replacer that died mid-swap; a swap takes milliseconds. */
const MARKER_MAX_AGE_MS = 10 * 60_000;

/**
 * The fs backend's session lock, `<sessionDir>/lease.json`.
 *
 * - Create: the record is written to a temp file and hard-linked to
 *   `lease.json`; `link` fails when the name exists, so exactly one creator wins
 *   and nobody ever reads a half-written lease (O_EXCL with the content in place).
 * - Replace (takeover of an expired lease, renew, release): a compare-and-swap on
 *   the current token. The replacer first creates `lease.json.cas-<token>` with
 *   O_EXCL — only one process at a time may act on a token — then checks the file
 *   still holds that token, then renames the new record over it (or unlinks it),
 *   and finally removes the marker. Tokens are never reused, so once the file
 *   has moved on from a token no later replacer can act on it, marker or not:
 *   the marker only has to live as long as the swap (issue #8: kept forever, one
 *   per renewal piled up in every session folder).
 */
export async function acquireFsLease(
  sessionId: string,
  dir: string,
  owner: string,
  ttlMs: number,
): Promise<Lease | undefined> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LEASE);
  for (let attempt = 0; attempt < 3; attempt++) {
    const record = newLeaseRecord(owner, ttlMs);
    if (await createExclusive(file, record)) {
      await sweepMarkers(dir);
      return new FsLease(sessionId, file, owner, ttlMs, record);
    }
    const current = await readRecord(file);
    if (current === null) continue; // released between our create and read: try again
    if (isLive(current)) return undefined;
    // A replacer that died mid-swap left its marker, which would block this takeover for good.
    await sweepMarkers(dir);
    // The expired lease's own holder may have died mid-renewal (a worker killed at the wrong
    // millisecond): its marker is spent once it is older than a whole time-to-live — no swap
    // takes that long, and a holder that stalled that long has lost the lease anyway.
    await removeMarkerOlderThan(file, current?.token, ttlMs);
    if (await compareAndSwap(file, current?.token, record)) return new FsLease(sessionId, file, owner, ttlMs, record);
    return undefined;
  }
  return undefined;
}

class FsLease implements Lease {
  constructor(
    readonly sessionId: string,
    private readonly file: string,
    readonly owner: string,
    private readonly ttlMs: number,
    private record: LeaseRecord,
  ) {}

  get expiresAt(): number {
    return this.record.expiresAt;
  }

  async renew(): Promise<boolean> {
    const next = newLeaseRecord(this.owner, this.ttlMs);
    if (!(await compareAndSwap(this.file, this.record.token, next))) return false;
    this.record = next;
    return true;
  }

  async release(): Promise<void> {
    await compareAndSwap(this.file, this.record.token, undefined);
  }
}

async function createExclusive(file: string, record: LeaseRecord): Promise<boolean> {
  const temp = `${file}.new-${randomBytes(6).toString('hex')}`;
  await fs.writeFile(temp, JSON.stringify(record), { mode: 0o600 });
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

/**
 * Replaces the lease holding `token` with `next` (or removes it when `next` is
 * undefined). False when another replacer is acting on the token or the file no
 * longer holds it. An unreadable lease has no token; `garbled` stands in for it.
 * Throws on I/O errors, leaving no marker behind, so a retry can still succeed.
 */
async function compareAndSwap(file: string, token: string | undefined, next: LeaseRecord | undefined): Promise<boolean> {
  const marker = `${file}.cas-${token ?? 'garbled'}`;
  try {
    await fs.writeFile(marker, '', { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // session deleted
    throw error;
  }
  try {
    const current = await readRecord(file);
    if (current === null || current?.token !== token) return false;
    if (next) await writeFileAtomic(file, JSON.stringify(next));
    else await fs.rm(file, { force: true });
    return true;
  } finally {
    // A marker that cannot be removed is harmless (its token is spent) and swept later: never fail the swap for it.
    await fs.rm(marker, { force: true }).catch(() => {});
  }
}

/** The lease on disk; null when there is none, undefined when it is unreadable. */
async function readRecord(file: string): Promise<LeaseRecord | undefined | null> {
  try {
    return parseLeaseRecord(await fs.readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function removeMarkerOlderThan(file: string, token: string | undefined, ageMs: number): Promise<void> {
  const marker = `${file}.cas-${token ?? 'garbled'}`;
  const stat = await fs.stat(marker).catch(() => undefined);
  if (stat && stat.mtimeMs < Date.now() - ageMs) await fs.rm(marker, { force: true });
}

async function sweepMarkers(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const cutoff = Date.now() - MARKER_MAX_AGE_MS;
  await Promise.all(
    names
      .filter((name) => name.startsWith(`${LEASE}.cas-`))
      .map(async (name) => {
        const marker = path.join(dir, name);
        const stat = await fs.stat(marker).catch(() => undefined);
        if (stat && stat.mtimeMs < cutoff) await fs.rm(marker, { force: true });
      }),
  );
}
