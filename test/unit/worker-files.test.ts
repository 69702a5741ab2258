import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { protectWorkerFiles } from '../../src/isolation/worker-files.js';
import { makeTempDir } from '../fixtures/temp.js';

describe("the worker's own files under isolation (issue #8)", () => {
  it('closes a readable .env and every session folder a killed job left open', async () => {
    await using root = await makeTempDir('acw-worker-files');
    const envFile = path.join(root.path, '.env');
    await fs.writeFile(envFile, 'WORKER_API_TOKEN=secret\n', { mode: 0o644 });
    await fs.chmod(envFile, 0o644);
    const sessions = path.join(root.path, 'workspace', 'sessions');
    await fs.mkdir(path.join(sessions, 'left-open'), { recursive: true, mode: 0o711 });
    await fs.chmod(path.join(sessions, 'left-open'), 0o711);

    await protectWorkerFiles(path.join(root.path, 'workspace'), envFile, pino({ level: 'silent' }));

    assert.equal((await fs.stat(envFile)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.join(sessions, 'left-open'))).mode & 0o777, 0o700);
  });

  it('leaves a private .env alone and copes with no .env and no sessions folder', async () => {
    await using root = await makeTempDir('acw-worker-files');
    const envFile = path.join(root.path, '.env');
    await fs.writeFile(envFile, 'X=1\n', { mode: 0o400 });
    await protectWorkerFiles(path.join(root.path, 'nothing-here'), envFile, pino({ level: 'silent' }));
    assert.equal((await fs.stat(envFile)).mode & 0o777, 0o400);
    await protectWorkerFiles(root.path, path.join(root.path, 'missing.env'), pino({ level: 'silent' }));
  });
});
