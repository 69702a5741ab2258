import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redactor } from '../secrets/redactor.js';

/**
 * Copies an agent's state files (transcripts, rollouts) between its private
 * home and the session's state folder: regular files only (symlinks are
 * skipped), with the run's secrets redacted, and only the files `keep` accepts.
 */
export async function copyStateFiles(
  source: string,
  target: string,
  secrets: readonly string[],
  keep: (fileName: string) => boolean,
): Promise<void> {
  const redactor = new Redactor();
  redactor.add(secrets);
  await copyTree(source, target, redactor, keep);
}

async function copyTree(source: string, target: string, redactor: Redactor, keep: (fileName: string) => boolean): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory()) await copyTree(from, to, redactor, keep);
    else if (entry.isFile() && keep(entry.name)) await writeFile(to, redactor.redact(await readFile(from, 'utf8')));
  }
}

/** A function that redacts the given secrets from a text (e.g. an agent's stderr). */
export function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const redactor = new Redactor();
  redactor.add(secrets);
  return (text) => redactor.redact(text);
}

/** True for a real directory (not a symlink to one). */
export async function isDirectory(path: string): Promise<boolean> {
  return lstat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}
