/**
 * The session lock while a job runs (issue #8): renewals never overlap, so a
 * short SESSION_LEASE_TTL_MS with a slow model turn does not abort a healthy
 * job, and the fs store's compare-and-swap markers do not pile up.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { postExecute } from '../fixtures/sse.js';
import { claudeRequest, startRig, typesOf } from './helpers.js';

describe('the session lease of a running job', () => {
  it('a one-second lease outlives a slow model turn: the job completes and leaves no lease markers', async () => {
    // Many renewals (one every ~333 ms) while the model thinks, with the worker busy checkpointing too.
    const rig = await startRig(() => ({ type: 'text', text: 'Slow but done.', delayMs: 5_000 }), {
      SESSION_LEASE_TTL_MS: '1000',
      CHECKPOINT_INTERVAL_MS: '100',
    });
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('Think slowly', { websiteSessionId: 'short-lease' }));
      assert.equal(res.status, 200, res.text);
      const events = await res.events();
      const last = events.at(-1)!.data;
      assert.equal(last.type, 'completed', `not aborted: ${JSON.stringify(last)}`);
      assert.ok(!typesOf(events).includes('error'));
      assert.equal(
        rig.worker.logRecords().filter((record) => /lease lost/.test(String(record.msg))).length,
        0,
        'no renewal was taken for a lost lease',
      );

      const renewals = rig.worker.logRecords().filter((record) => record.msg === 'session lease renewed');
      assert.ok(renewals.length >= 5, `the lease was renewed many times (${renewals.length})`);
      const stored = await fs.readdir(path.join(rig.worker.dirs.sessions, 'short-lease'));
      assert.deepEqual(
        stored.filter((name) => name.startsWith('lease.json')),
        [],
        `no lease file and no compare-and-swap marker left: ${stored.join(', ')}`,
      );
    } finally {
      await rig.close();
    }
  });
});
