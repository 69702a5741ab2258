import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';

/**
 * A session snapshot is a plain tar of the local session folder (workspace and
 * agent state). Not compressed: a repository's `.git` is already compressed,
 * and the archive is written once per turn on the job's critical path.
 */
export function createArchiveStream(sourceDir: string): Readable {
  return tar.c({ cwd: sourceDir, portable: true, noMtime: false }, ['.']) as unknown as Readable;
}

/** Extracts an archive stream into `targetDir`, replacing what was there. */
export async function extractArchiveStream(source: Readable, targetDir: string): Promise<void> {
  await fs.rm(targetDir, { recursive: true, force: true });
  await fs.mkdir(targetDir, { recursive: true });
  await pipeline(source, tar.x({ cwd: targetDir, preserveOwner: false }));
}
