import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { request } from '../fixtures/sse.js';
import { restartWorker, startWorker } from '../fixtures/worker.js';

describe('worker process lifecycle (no job running)', () => {
  it('SIGTERM on an idle worker → prompt exit with code 0', async () => {
    await using worker = await startWorker();
    const started = Date.now();
    const exit = await worker.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, worker.logs());
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms to stop`);
    await assert.rejects(fetch(`${worker.url}/health`), 'the port still answers after exit');
  });

  it('SIGINT on an idle worker → exit with code 0', async () => {
    await using worker = await startWorker();
    const exit = await worker.stop('SIGINT');
    assert.deepEqual(exit, { code: 0, signal: null }, worker.logs());
  });

  it('a restart keeps WORKSPACE_DIR and SESSIONS_DIR and serves again', async () => {
    const first = await startWorker();
    const dirs = first.dirs;
    await using second = await restartWorker(first);
    assert.notEqual(first.proc.exitCode, null, 'the first worker is still running');
    assert.deepEqual(second.dirs, dirs);
    assert.ok(existsSync(dirs.sessions), 'SESSIONS_DIR was removed by the restart');
    const res = await request(`${second.url}/sessions`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { count: 0, sessions: [] });
  });

  it('disposing a worker removes the temp dirs the fixture made', async () => {
    const worker = await startWorker();
    await worker.dispose();
    assert.equal(existsSync(worker.dirs.sessions), false);
    assert.equal(existsSync(worker.dirs.workspace), false);
  });
});
