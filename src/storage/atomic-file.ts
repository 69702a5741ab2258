import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Writes go to a temporary sibling that is fsynced and renamed over the
 * target, so a crash mid-write leaves the previous version in place.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temp = tempSibling(target);
  try {
    const handle = await fs.open(temp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** Streams `source` into `target` atomically. */
export async function writeStreamAtomic(target: string, source: Readable): Promise<void> {
  const temp = tempSibling(target);
  try {
    await pipeline(source, createWriteStream(temp, { mode: 0o600 }));
    const handle = await fs.open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

function tempSibling(target: string): string {
  return `${target}.tmp-${randomBytes(6).toString('hex')}`;
}
