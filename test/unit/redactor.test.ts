import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, Redactor } from '../../src/secrets/redactor.js';

describe('Redactor', () => {
  it('replaces a secret verbatim, JSON-escaped and URL-encoded', () => {
    const redactor = new Redactor();
    const secret = 'tok"en/with+chars';
    redactor.add([secret]);
    assert.equal(redactor.redact(`a ${secret} b`), `a ${REDACTED} b`);
    assert.equal(redactor.redact(JSON.stringify({ value: secret })), `{"value":"${REDACTED}"}`);
    assert.equal(redactor.redact(`https://x/?t=${encodeURIComponent(secret)}`), `https://x/?t=${REDACTED}`);
  });

  it('releases secrets only when every holder released them', () => {
    const redactor = new Redactor();
    const releaseFirst = redactor.add(['shared-secret-1']);
    const releaseSecond = redactor.add(['shared-secret-1']);
    releaseFirst();
    releaseFirst();
    assert.equal(redactor.redact('shared-secret-1'), REDACTED);
    releaseSecond();
    assert.equal(redactor.redact('shared-secret-1'), 'shared-secret-1');
  });

  it('ignores values too short to be secrets and leaves other text alone', () => {
    const redactor = new Redactor();
    redactor.add(['abc', undefined, '']);
    assert.equal(redactor.redact('abc abc'), 'abc abc');
    assert.deepEqual(redactor.redactValue({ a: [1, 'x'] }), { a: [1, 'x'] });
  });
});
