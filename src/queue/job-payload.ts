import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The request of a queued job, sealed with AES-256-GCM under JOB_ENCRYPTION_KEY
 * (issue #10): credentials and tokens never sit in Redis in plain text. The
 * session id is the additional authenticated data, so a payload cannot be moved
 * onto another session's job. Format: base64(iv | tag | ciphertext).
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealedPayloadError extends Error {
  constructor() {
    super('the queued job could not be opened: it was sealed with another JOB_ENCRYPTION_KEY, or altered');
    this.name = 'SealedPayloadError';
  }
}

/** Parses JOB_ENCRYPTION_KEY: 32 bytes as 64 hex characters or as base64. Undefined when it is neither. */
export function parseEncryptionKey(value: string): Buffer | undefined {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

export function sealPayload(plaintext: string, key: Buffer, sessionId: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(sessionId));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64');
}

/** Opens a sealed payload; throws SealedPayloadError when the key, the session or the bytes do not match. */
export function openPayload(sealed: string, key: Buffer, sessionId: string): string {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new SealedPayloadError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(sessionId));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedPayloadError();
  }
}
