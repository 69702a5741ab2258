import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';

/**
 * Writes go to a temporary sibling that is fsynced and renamed over the
 * target, so a crash mid-write leaves the previous version in place.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await replaceAtomically(target, async (temp) => {
    const handle = await fs.open(temp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** Lets `write` fill a temporary sibling of `target`, then renames it over `target`; removes it on failure. */
async function replaceAtomically(target: string, write: (temp: string) => Promise<void>): Promise<void> {
  const temp = tempSibling(target);
  try {
    await write(temp);
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

function tempSibling(target: string): string {
  return `${target}.tmp-${randomBytes(6).toString('hex')}`;
}
