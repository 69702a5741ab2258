import fs from 'node:fs/promises';
import path from 'node:path';
import type { NumberedEvent } from '../events/registry.js';
import { isValidSessionId } from '../sessions/session-id.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import type { SessionMetadata } from '../storage/types.js';
import { localSessionPaths, type LocalSessionPaths } from './local-session.js';

/**
 * A session whose final save failed (the store was unreachable) is kept on
 * this worker with what still has to reach the store, until a later save
 * succeeds — before the session's next job or at the worker's next start-up.
 * It is never deleted unsaved.
 */
export interface PendingSave {
  metadata: SessionMetadata;
  events: NumberedEvent[];
  /** The local workspace and state still have to be archived. */
  archive: boolean;
}

const PENDING_FILE = '.pending-save.json';

export async function writePendingSave(paths: LocalSessionPaths, pending: PendingSave): Promise<void> {
  await fs.mkdir(paths.root, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(paths.root, PENDING_FILE), JSON.stringify(pending));
}

export async function readPendingSave(paths: LocalSessionPaths): Promise<PendingSave | undefined> {
  const text = await fs.readFile(path.join(paths.root, PENDING_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as PendingSave);
}

export async function clearPendingSave(paths: LocalSessionPaths): Promise<void> {
  await fs.rm(path.join(paths.root, PENDING_FILE), { force: true });
}

/** Whether the session has a pending save here (even one that cannot be read: it is still unsaved). */
export async function hasPendingSave(paths: LocalSessionPaths): Promise<boolean> {
  return fs.stat(path.join(paths.root, PENDING_FILE)).then(
    () => true,
    (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
  );
}

/** Session ids on this worker that have a pending save. */
export async function listPendingSaves(workspaceDir: string): Promise<string[]> {
  const sessionsDir = path.join(workspaceDir, 'sessions');
  const entries = await fs.readdir(sessionsDir, { withFileTypes: true }).catch(() => []);
  const pending: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !isValidSessionId(entry.name)) continue;
    if (await hasPendingSave(localSessionPaths(workspaceDir, entry.name))) pending.push(entry.name);
  }
  return pending;
}
