import { chmod, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

/**
 * With agents under their own uids, the worker's own files must not be
 * readable by "others": its `.env` holds every secret the worker has, and a
 * session folder left 0711 by a killed job would let a later agent of the same
 * slot uid walk into that session's workspace.
 */
export async function protectWorkerFiles(workspaceDir: string, envFile: string, logger: Logger): Promise<void> {
  const envStats = await stat(envFile).catch(() => undefined);
  if (envStats && (envStats.mode & 0o077) !== 0) {
    await chmod(envFile, 0o600);
    logger.warn({ file: envFile }, '.env was readable by other users (agents among them); it is now 0600');
  }
  const sessionsDir = path.join(workspaceDir, 'sessions');
  for (const entry of await readdir(sessionsDir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) await chmod(path.join(sessionsDir, entry.name), 0o700).catch(() => {});
  }
}
