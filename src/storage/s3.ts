import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { decodeEventLog, encodeEventLog } from './event-log-codec.js';
import type { NumberedEvent } from '../events/registry.js';
import { isValidSessionId } from '../sessions/session-id.js';
import { createArchiveStream } from './archive.js';
import {
  ArchiveIntegrityError,
  DigestStream,
  createEncoder,
  extractVerified,
  parsePointer,
  type ArchiveEncoding,
  type ArchivePointer,
} from './integrity.js';
import { acquireS3Lease, statusOf } from './s3-lease.js';
import type { Lease, SessionMetadata, SessionStore } from './types.js';
import { UnreleasedLeases } from './unreleased-leases.js';

export interface S3StoreOptions {
  /** `host:port` or a URL; a bare host gets http/https from `useSsl`. */
  endpoint: string;
  accessKey?: string;
  secretKey?: string;
  useSsl: boolean;
  bucket: string;
  region?: string;
  /** Key prefix of every session; default `sessions/`. */
  prefix?: string;
  /** MaxKeys of each listing page (S3 caps it at 1000). */
  pageSize?: number;
  /** Attempts per request, with the SDK's exponential backoff and jitter, for transient failures. */
  maxAttempts?: number;
  /** Multipart part size; S3's minimum is 5 MiB. Memory in use is about partSize × queueSize. */
  partSize?: number;
  encoding?: ArchiveEncoding;
}

const METADATA = 'metadata.json';
const EVENTS = 'events.jsonl';
const POINTER = 'archive.json';
const LEASE = 'lease.json';
const ARCHIVES = 'archives/';
const MIN_PART_SIZE = 5 * 1024 * 1024;
const UPLOAD_QUEUE_SIZE = 2;
const METADATA_READ_CONCURRENCY = 8;
const RESTORE_ATTEMPTS = 3;

/**
 * Sessions in an S3-compatible bucket (MinIO, AWS S3, ...), path-style, under
 * `<prefix><sessionId>/`: `metadata.json` and `events.jsonl` as their own small
 * objects, so listing and replay never touch the workspace; the workspace
 * archive (tar + brotli) as `archives/<stamp>-<rand>.tar.br`, streamed up in
 * multipart; `archive.json` pointing at the current archive with its sha256;
 * and `lease.json`, the session lock. See docs/storage.md.
 */
export class S3SessionStore implements SessionStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageSize: number;
  private readonly partSize: number;
  private readonly encoding: ArchiveEncoding;
  private readonly unreleased = new UnreleasedLeases();

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'sessions/';
    this.pageSize = Math.min(1000, Math.max(1, options.pageSize ?? 1000));
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? MIN_PART_SIZE);
    this.encoding = options.encoding ?? 'br';
    this.client = new S3Client({
      endpoint: endpointUrl(options.endpoint, options.useSsl),
      region: options.region ?? 'us-east-1',
      forcePathStyle: true,
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
      ...(options.accessKey && options.secretKey
        ? { credentials: { accessKeyId: options.accessKey, secretAccessKey: options.secretKey } }
        : {}),
    });
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      // Another worker created it first.
      if ((error as Error).name !== 'BucketAlreadyOwnedByYou' && statusOf(error) !== 409) throw error;
    }
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }

  async readMetadata(sessionId: string): Promise<SessionMetadata | undefined> {
    const text = await this.getText(this.key(sessionId, METADATA));
    return text === undefined ? undefined : (JSON.parse(text) as SessionMetadata);
  }

  async writeMetadata(metadata: SessionMetadata): Promise<void> {
    await this.putText(this.key(metadata.sessionId, METADATA), JSON.stringify(metadata, null, 2), 'application/json');
  }

  async listSessions(): Promise<SessionMetadata[]> {
    // A flat listing filtered to metadata objects: common-prefix paging
    // differs between S3-compatible services, plain key paging does not.
    const ids: string[] = [];
    for await (const key of this.listKeys(this.prefix)) {
      const rest = key.slice(this.prefix.length);
      const slash = rest.indexOf('/');
      if (slash > 0 && rest.slice(slash + 1) === METADATA && isValidSessionId(rest.slice(0, slash))) {
        ids.push(rest.slice(0, slash));
      }
    }
    const sessions = await mapLimited(ids, METADATA_READ_CONCURRENCY, (id) =>
      this.readMetadata(id).catch(() => undefined),
    );
    return sessions.filter((session): session is SessionMetadata => session !== undefined);
  }

  async readEvents(sessionId: string): Promise<NumberedEvent[]> {
    return decodeEventLog(await this.getText(this.key(sessionId, EVENTS)));
  }

  async writeEvents(sessionId: string, events: readonly NumberedEvent[]): Promise<void> {
    await this.putText(this.key(sessionId, EVENTS), encodeEventLog(events), 'application/x-ndjson');
  }

  async saveArchive(sessionId: string, sourceDir: string): Promise<void> {
    await this.saveArchiveStream(sessionId, createArchiveStream(sourceDir));
  }

  /**
   * Streams `source` (a tar stream) up as a new archive object — multipart,
   * hashed on the way — checks its stored size, then switches `archive.json`
   * to it and removes older archives. Until the switch the previous archive
   * stays current, so a failure or crash mid-save loses nothing.
   */
  async saveArchiveStream(sessionId: string, source: Readable): Promise<void> {
    const extension = this.encoding === 'br' ? '.tar.br' : '.tar';
    const name = `${ARCHIVES}${Date.now().toString(36)}-${randomBytes(4).toString('hex')}${extension}`;
    const key = this.key(sessionId, name);
    const digest = new DigestStream();
    const encoder = createEncoder(this.encoding);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: digest, ContentType: 'application/octet-stream' },
      partSize: this.partSize,
      queueSize: UPLOAD_QUEUE_SIZE,
      leavePartsOnError: false,
    });
    const [piped, uploaded] = await Promise.allSettled([
      encoder ? pipeline(source, encoder, digest) : pipeline(source, digest),
      upload.done(),
    ]);
    if (piped.status === 'rejected' || uploaded.status === 'rejected') {
      await this.deleteKeys([key]).catch(() => undefined);
      throw piped.status === 'rejected' ? piped.reason : (uploaded as PromiseRejectedResult).reason;
    }
    const pointer: ArchivePointer = {
      name,
      sha256: digest.digest(),
      size: digest.bytes,
      encoding: this.encoding,
      savedAt: new Date().toISOString(),
    };
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    if (head.ContentLength !== pointer.size) {
      await this.deleteKeys([key]).catch(() => undefined);
      throw new ArchiveIntegrityError(`uploaded archive has ${head.ContentLength} bytes, expected ${pointer.size}`);
    }
    await this.putText(this.key(sessionId, POINTER), JSON.stringify(pointer, null, 2), 'application/json');
    await this.removeArchivesExcept(sessionId, key).catch(() => undefined);
  }

  async restoreArchive(sessionId: string, targetDir: string): Promise<boolean> {
    const pointerText = await this.getText(this.key(sessionId, POINTER));
    if (pointerText === undefined) return false;
    const pointer = parsePointer(pointerText);
    // A dropped connection mid-download is not retried by the SDK; the whole
    // restore is, since it unpacks into a staging folder first.
    for (let attempt = 1; ; attempt++) {
      try {
        const body = await this.getStream(this.key(sessionId, pointer.name));
        if (!body) throw new ArchiveIntegrityError(`archive object ${pointer.name} is missing`);
        await extractVerified(body, pointer, targetDir);
        return true;
      } catch (error) {
        // A checksum mismatch or unreadable archive is what is stored, not a hiccup.
        if (error instanceof ArchiveIntegrityError || attempt >= RESTORE_ATTEMPTS) throw error;
        await sleep(200 * 2 ** attempt);
      }
    }
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    const keys: string[] = [];
    for await (const key of this.listKeys(this.key(sessionId, ''))) keys.push(key);
    if (keys.length === 0) return false;
    // Metadata first, so a half-finished delete never lists as a session.
    const metadataKey = this.key(sessionId, METADATA);
    if (keys.includes(metadataKey)) await this.deleteKeys([metadataKey]);
    await this.deleteKeys(keys.filter((key) => key !== metadataKey));
    return true;
  }

  async acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    return this.unreleased.acquire(sessionId, owner, () =>
      acquireS3Lease({ client: this.client, bucket: this.bucket, key: this.key(sessionId, LEASE) }, sessionId, owner, ttlMs),
    );
  }

  private key(sessionId: string, name: string): string {
    if (!isValidSessionId(sessionId)) throw new Error(`invalid session id: ${sessionId}`);
    return `${this.prefix}${sessionId}/${name}`;
  }

  private async *listKeys(prefix: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: this.pageSize, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += 1000) {
      const batch = keys.slice(start, start + 1000);
      const result = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failed = (result.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        throw new Error(`could not delete ${failed.length} object(s), first ${failed[0]?.Key}: ${failed[0]?.Message}`);
      }
    }
  }

  private async removeArchivesExcept(sessionId: string, current: string): Promise<void> {
    const stale: string[] = [];
    for await (const key of this.listKeys(this.key(sessionId, ARCHIVES))) if (key !== current) stale.push(key);
    if (stale.length > 0) await this.deleteKeys(stale);
  }

  private async getStream(key: string): Promise<Readable | undefined> {
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return result.Body as Readable;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async getText(key: string): Promise<string | undefined> {
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await result.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async putText(key: string, body: string, contentType: string): Promise<void> {
    // An explicit length: the SDK omits it for an empty body, then warns about streams of unknown length.
    const bytes = Buffer.from(body, 'utf8');
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length, ContentType: contentType }),
    );
  }
}

/** `host:port` → `http(s)://host:port`; a URL is kept as it is. */
export function endpointUrl(endpoint: string, useSsl: boolean): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) return endpoint;
  return `${useSsl ? 'https' : 'http'}://${endpoint}`;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
