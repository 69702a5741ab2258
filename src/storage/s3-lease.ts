import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isLive, newLeaseRecord, parseLeaseRecord, type LeaseRecord } from './lease.js';
import type { Lease } from './types.js';

interface LeaseTarget {
  client: S3Client;
  bucket: string;
  key: string;
}

/**
 * The s3 backend's session lock: one lease object per session, only ever
 * written conditionally — created with `If-None-Match: *`, and replaced
 * (takeover of an expired lease, renew, release) with `If-Match: <etag>` of
 * the version the writer read. S3, MinIO and other services with conditional
 * writes answer 412 to the loser of a race.
 *
 * Release writes an already-expired record instead of deleting, because
 * conditional deletes are not offered everywhere conditional writes are.
 */
export async function acquireS3Lease(
  target: LeaseTarget,
  sessionId: string,
  owner: string,
  ttlMs: number,
): Promise<Lease | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const record = newLeaseRecord(owner, ttlMs);
    const created = await putLease(target, record, { ifNoneMatch: true });
    if (created) return new S3Lease(target, sessionId, owner, ttlMs, record, created);
    const current = await getLease(target);
    if (current === undefined) continue; // deleted between our write and read: try again
    // A retried request whose first attempt did succeed comes back as 412.
    if (current.record?.token === record.token) {
      return new S3Lease(target, sessionId, owner, ttlMs, record, current.etag);
    }
    if (isLive(current.record)) return undefined;
    const replaced = await putLease(target, record, { ifMatch: current.etag });
    return replaced ? new S3Lease(target, sessionId, owner, ttlMs, record, replaced) : undefined;
  }
  return undefined;
}

class S3Lease implements Lease {
  /**
   * Tokens of our writes that failed without an answer: the store may hold one
   * of them all the same (the request landed, the response was lost), and a
   * later renewal that finds it must not take its own write for another holder.
   */
  private readonly unanswered = new Set<string>();

  constructor(
    private readonly target: LeaseTarget,
    readonly sessionId: string,
    readonly owner: string,
    private readonly ttlMs: number,
    private record: LeaseRecord,
    private etag: string,
  ) {}

  get expiresAt(): number {
    return this.record.expiresAt;
  }

  async renew(): Promise<boolean> {
    return this.replace(newLeaseRecord(this.owner, this.ttlMs));
  }

  async release(): Promise<void> {
    await this.replace({ ...newLeaseRecord(this.owner, 0), expiresAt: 0 });
  }

  private async replace(next: LeaseRecord, retried = false): Promise<boolean> {
    let etag: string | undefined;
    try {
      etag = await putLease(this.target, next, { ifMatch: this.etag });
    } catch (error) {
      this.unanswered.add(next.token);
      throw error;
    }
    if (etag) return this.hold(next, etag);
    const current = await getLease(this.target);
    const token = current?.record?.token;
    if (!current?.record || token === undefined) return false;
    // A retried request whose first attempt did succeed comes back as 412.
    if (token === next.token) return this.hold(next, current.etag);
    if (!this.unanswered.has(token) || retried) return false;
    // An earlier write of ours did land: continue from it, and write `next` over it.
    this.hold(current.record, current.etag);
    return this.replace(next, true);
  }

  private hold(record: LeaseRecord, etag: string): true {
    this.record = record;
    this.etag = etag;
    this.unanswered.clear();
    return true;
  }
}

/** The new ETag, or undefined when the condition did not hold. */
async function putLease(
  target: LeaseTarget,
  record: LeaseRecord,
  condition: { ifNoneMatch: true } | { ifMatch: string },
): Promise<string | undefined> {
  try {
    const result = await target.client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        Body: JSON.stringify(record),
        ContentType: 'application/json',
        ...('ifMatch' in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: '*' }),
      }),
    );
    if (!result.ETag) throw new Error('the object store returned no ETag for the lease');
    return result.ETag;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

async function getLease(target: LeaseTarget): Promise<{ record?: LeaseRecord; etag: string } | undefined> {
  try {
    const result = await target.client.send(new GetObjectCommand({ Bucket: target.bucket, Key: target.key }));
    const text = (await result.Body?.transformToString()) ?? '';
    return { record: parseLeaseRecord(text), etag: result.ETag ?? '' };
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

/** 412: the condition did not hold; 409: a concurrent conditional write won; 404: If-Match on a deleted object. */
function isConditionFailure(error: unknown): boolean {
  const status = statusOf(error);
  return status === 412 || status === 409 || status === 404;
}

export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
