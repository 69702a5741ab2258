import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NumberedEvent } from '../events/registry.js';
import { isValidSessionId } from '../sessions/session-id.js';
import { createArchiveStream } from './archive.js';
import { writeFileAtomic } from './atomic-file.js';
import { decodeEventLog, encodeEventLog } from './event-log-codec.js';
import { DigestStream, extractVerified, parsePointer, type ArchivePointer } from './integrity.js';
import { acquireFsLease } from './lease.js';
import type { Lease, SessionMetadata, SessionStore } from './types.js';
import { UnreleasedLeases } from './unreleased-leases.js';

const METADATA = 'metadata.json';
const EVENTS = 'events.jsonl';
const POINTER = 'archive.json';
/** Archives written before archives were verified; restored as they are. */
const ARCHIVE_FILE = /^archive-[0-9a-z-]+\.tar$/;

/**
 * Sessions on local disk: `<root>/<sessionId>/` holds `metadata.json`,
 * `events.jsonl`, `archive-<stamp>.tar` (plain tar: a local disk gains little
 * from compression, see docs/storage.md), `archive.json` (the pointer to the
 * current archive with its sha256) and `lease.json` (the session lock).
 */
export class FsSessionStore implements SessionStore {
  readonly kind = 'fs' as const;

  private readonly unreleased = new UnreleasedLeases();

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    // A folder that exists but cannot be written (a read-only root file system without a volume
    // there) must keep the worker not ready, not fail each job's save later (issue #11).
    await fs.access(this.root, fs.constants.W_OK);
  }

  async readMetadata(sessionId: string): Promise<SessionMetadata | undefined> {
    const text = await readIfExists(this.file(sessionId, METADATA));
    return text === undefined ? undefined : (JSON.parse(text) as SessionMetadata);
  }

  async writeMetadata(metadata: SessionMetadata): Promise<void> {
    await this.ensureDir(metadata.sessionId);
    await writeFileAtomic(this.file(metadata.sessionId, METADATA), JSON.stringify(metadata, null, 2));
  }

  async listSessions(): Promise<SessionMetadata[]> {
    const entries = await fs.readdir(this.root, { withFileTypes: true }).catch(() => []);
    const sessions = await Promise.all(
      entries
        .filter((entry) => entry.isDirectory() && isValidSessionId(entry.name))
        .map((entry) => this.readMetadata(entry.name).catch(() => undefined)),
    );
    return sessions.filter((session): session is SessionMetadata => session !== undefined);
  }

  async readEvents(sessionId: string): Promise<NumberedEvent[]> {
    return decodeEventLog(await readIfExists(this.file(sessionId, EVENTS)));
  }

  async writeEvents(sessionId: string, events: readonly NumberedEvent[]): Promise<void> {
    await this.ensureDir(sessionId);
    await writeFileAtomic(this.file(sessionId, EVENTS), encodeEventLog(events));
  }

  async saveArchive(sessionId: string, sourceDir: string): Promise<void> {
    await this.saveArchiveStream(sessionId, createArchiveStream(sourceDir));
  }

  /**
   * Stores `source` (a tar stream) as the session's archive: a new file, then
   * the pointer switched atomically, then older archives removed. A failure
   * at any point leaves the previous archive current.
   */
  async saveArchiveStream(sessionId: string, source: Readable): Promise<void> {
    await this.ensureDir(sessionId);
    const name = `archive-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}.tar`;
    const file = this.file(sessionId, name);
    const digest = new DigestStream();
    try {
      await pipeline(source, digest, createWriteStream(file, { mode: 0o600 }));
      const handle = await fs.open(file, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      const pointer: ArchivePointer = {
        name,
        sha256: digest.digest(),
        size: digest.bytes,
        encoding: 'identity',
        savedAt: new Date().toISOString(),
      };
      await writeFileAtomic(this.file(sessionId, POINTER), JSON.stringify(pointer, null, 2));
    } catch (error) {
      await fs.rm(file, { force: true });
      throw error;
    }
    await this.removeArchivesExcept(sessionId, name);
  }

  async restoreArchive(sessionId: string, targetDir: string): Promise<boolean> {
    const pointerText = await readIfExists(this.file(sessionId, POINTER));
    if (pointerText === undefined) return false;
    const pointer = parsePointer(pointerText);
    await extractVerified(createReadStream(this.file(sessionId, pointer.name)), pointer, targetDir);
    return true;
  }

  async acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    return this.unreleased.acquire(sessionId, owner, () => acquireFsLease(sessionId, this.dir(sessionId), owner, ttlMs));
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    const dir = this.dir(sessionId);
    if (!(await exists(dir))) return false;
    // Rename first so a half-finished delete never looks like a valid session.
    const doomed = `${dir}.deleting-${Date.now()}`;
    await fs.rename(dir, doomed);
    await fs.rm(doomed, { recursive: true, force: true });
    return true;
  }

  private dir(sessionId: string): string {
    if (!isValidSessionId(sessionId)) throw new Error(`invalid session id: ${sessionId}`);
    return path.join(this.root, sessionId);
  }

  private file(sessionId: string, name: string): string {
    return path.join(this.dir(sessionId), name);
  }

  private async ensureDir(sessionId: string): Promise<void> {
    await fs.mkdir(this.dir(sessionId), { recursive: true, mode: 0o700 });
  }

  /** Removes superseded archives, and those a crash mid-save left behind. */
  private async removeArchivesExcept(sessionId: string, current: string): Promise<void> {
    const names = await fs.readdir(this.dir(sessionId)).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((name) => name !== current && ARCHIVE_FILE.test(name))
        .map((name) => fs.rm(this.file(sessionId, name), { force: true })),
    );
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}
