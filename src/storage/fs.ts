import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { NumberedEvent } from '../events/types.js';
import { isValidSessionId } from '../sessions/session-id.js';
import { createArchiveStream, extractArchiveStream } from './archive.js';
import { writeFileAtomic, writeStreamAtomic } from './atomic-file.js';
import type { SessionMetadata, SessionStore } from './types.js';

const METADATA = 'metadata.json';
const EVENTS = 'events.jsonl';
const ARCHIVE = 'archive.tar';

/** Sessions on local disk: `<root>/<sessionId>/{metadata.json,events.jsonl,archive.tar}`. */
export class FsSessionStore implements SessionStore {
  readonly kind = 'fs' as const;

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
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
    const text = await readIfExists(this.file(sessionId, EVENTS));
    if (!text) return [];
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as NumberedEvent);
  }

  async writeEvents(sessionId: string, events: readonly NumberedEvent[]): Promise<void> {
    await this.ensureDir(sessionId);
    const body = events.map((event) => JSON.stringify(event)).join('\n');
    await writeFileAtomic(this.file(sessionId, EVENTS), body === '' ? '' : `${body}\n`);
  }

  async saveArchive(sessionId: string, sourceDir: string): Promise<void> {
    await this.ensureDir(sessionId);
    await writeStreamAtomic(this.file(sessionId, ARCHIVE), createArchiveStream(sourceDir));
  }

  async restoreArchive(sessionId: string, targetDir: string): Promise<boolean> {
    const file = this.file(sessionId, ARCHIVE);
    if (!(await exists(file))) return false;
    await extractArchiveStream(createReadStream(file), targetDir);
    return true;
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
