import type { Redis } from 'ioredis';
import { z } from 'zod';
import { openPayload, sealPayload } from '../queue/job-payload.js';
import { keys } from '../queue/keys.js';
import { checkHandbackTtl, type CredentialHandback, type HandbackCredentials } from './handback.js';

/**
 * The handback of a cluster: the worker that refreshed puts, whichever gateway the client
 * asks takes. The value is sealed like a queued job (AES-256-GCM under JOB_ENCRYPTION_KEY,
 * the session id as associated data), so no token sits in Redis in plain text and a value
 * cannot be moved to another session. Redis expires it (`PX`); `GETDEL` (Redis >= 6.2)
 * makes the read one-time even when two gateways ask at once.
 */

const Sealed = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().optional(),
  expiresAt: z.number().optional(),
});

export class RedisHandback implements CredentialHandback {
  private readonly ttlMs: number;

  /** `redis` is the caller's connection: the caller closes it. */
  constructor(
    private readonly redis: Redis,
    private readonly key: Buffer,
    ttlMs: number,
  ) {
    this.ttlMs = checkHandbackTtl(ttlMs);
  }

  async put(sessionId: string, credentials: HandbackCredentials): Promise<void> {
    const sealed = sealPayload(JSON.stringify(credentials), this.key, sessionId);
    await this.redis.set(keys.credentials(sessionId), sealed, 'PX', this.ttlMs);
  }

  /** Throws SealedPayloadError when the value was sealed under another key (the value is gone either way). */
  async take(sessionId: string): Promise<HandbackCredentials | undefined> {
    const sealed = await this.redis.getdel(keys.credentials(sessionId));
    if (sealed === null) return undefined;
    const parsed = Sealed.parse(JSON.parse(openPayload(sealed, this.key, sessionId)));
    const credentials: HandbackCredentials = { accessToken: parsed.accessToken };
    if (parsed.refreshToken !== undefined) credentials.refreshToken = parsed.refreshToken;
    if (parsed.expiresAt !== undefined) credentials.expiresAt = parsed.expiresAt;
    return credentials;
  }
}
