import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { openPayload, parseEncryptionKey, SealedPayloadError, sealPayload } from '../../src/queue/job-payload.js';

describe('sealed job payloads (issue #10)', () => {
  const key = randomBytes(32);
  const request = JSON.stringify({ userRequest: 'hi', codingAssistantAuthentication: 'sk-ant-api03-SEALTEST' });

  it('seals a request so that nothing of it shows, and opens it again', () => {
    const sealed = sealPayload(request, key, 'session-1');
    assert.ok(!sealed.includes('SEALTEST') && !Buffer.from(sealed, 'base64').toString('latin1').includes('SEALTEST'));
    assert.equal(openPayload(sealed, key, 'session-1'), request);
    assert.notEqual(sealPayload(request, key, 'session-1'), sealed, 'a fresh nonce every time');
  });

  it('refuses another key, another session, and altered bytes', () => {
    const sealed = sealPayload(request, key, 'session-1');
    assert.throws(() => openPayload(sealed, randomBytes(32), 'session-1'), SealedPayloadError);
    assert.throws(() => openPayload(sealed, key, 'session-2'), SealedPayloadError);
    const bytes = Buffer.from(sealed, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    assert.throws(() => openPayload(bytes.toString('base64'), key, 'session-1'), SealedPayloadError);
    assert.throws(() => openPayload('AAAA', key, 'session-1'), SealedPayloadError);
  });

  it('takes JOB_ENCRYPTION_KEY as 64 hex characters or base64 of 32 bytes, nothing else', () => {
    assert.deepEqual(parseEncryptionKey(key.toString('hex')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('base64')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('base64url')), key);
    assert.equal(parseEncryptionKey(randomBytes(16).toString('hex')), undefined);
    assert.equal(parseEncryptionKey('not a key'), undefined);
  });
});
