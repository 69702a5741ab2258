import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionEventLog } from '../../src/events/event-log.js';
import type { NumberedEvent } from '../../src/events/registry.js';
import { Redactor } from '../../src/secrets/redactor.js';

const message = (text: string) => ({ type: 'message' as const, message: text });

describe('SessionEventLog', () => {
  it('numbers events on from the stored history and stamps them', () => {
    const previous: NumberedEvent[] = [{ id: 7, event: { type: 'message', message: 'old', timestamp: 't' } }];
    const log = new SessionEventLog(new Redactor(), previous);
    const appended = log.append(message('new'));
    assert.equal(appended.id, 8);
    assert.match(appended.event.timestamp, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(
      log.events().map((event) => event.id),
      [7, 8],
    );
  });

  it('replays history after the given id, then delivers live events, then ends', () => {
    const log = new SessionEventLog(new Redactor());
    log.append(message('one'));
    log.append(message('two'));
    const seen: number[] = [];
    let ended = false;
    log.subscribe(1, (event) => seen.push(event.id), () => (ended = true));
    log.append(message('three'));
    log.end();
    assert.deepEqual(seen, [2, 3]);
    assert.equal(ended, true);
  });

  it('stops delivering to an unsubscribed listener and ends late subscribers at once', () => {
    const log = new SessionEventLog(new Redactor());
    const seen: number[] = [];
    const unsubscribe = log.subscribe(0, (event) => seen.push(event.id), () => {});
    log.append(message('one'));
    unsubscribe();
    unsubscribe();
    log.append(message('two'));
    log.end();
    let lateEnded = false;
    const late: number[] = [];
    log.subscribe(0, (event) => late.push(event.id), () => (lateEnded = true));
    assert.deepEqual(seen, [1]);
    assert.deepEqual(late, [1, 2]);
    assert.equal(lateEnded, true);
    assert.throws(() => log.append(message('after end')));
  });

  it('redacts registered secrets before anyone sees the event', () => {
    const redactor = new Redactor();
    redactor.add(['sk-secret-123456']);
    const log = new SessionEventLog(redactor);
    let delivered = '';
    log.subscribe(0, (event) => (delivered = JSON.stringify(event)), () => {});
    log.append(message('token is sk-secret-123456'));
    assert.ok(!delivered.includes('sk-secret-123456'));
    assert.ok(!JSON.stringify(log.events()).includes('sk-secret-123456'));
    assert.match(delivered, /\[REDACTED\]/);
  });
});
