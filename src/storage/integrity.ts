import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { createExtractStream } from './archive.js';

/** How an archive's bytes are encoded on top of tar. */
export type ArchiveEncoding = 'identity' | 'br';

/**
 * Points at the current archive of a session. Written (atomically) only after
 * the archive it names is completely stored, so a crash mid-save leaves the
 * previous pointer — and the previous archive — in place.
 */
export interface ArchivePointer {
  /** Object key or file name of the archive, relative to the session. */
  name: string;
  sha256: string;
  size: number;
  encoding: ArchiveEncoding;
  savedAt: string;
}

/** A stored archive does not match its recorded checksum or cannot be read. */
export class ArchiveIntegrityError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArchiveIntegrityError';
  }
}

/** Passes bytes through while computing their sha256 and length. */
export class DigestStream extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  /** The hex digest; call once, after the stream has ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Passes bytes through and fails at the end unless they match `expected`. */
class VerifyStream extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;

  constructor(private readonly expected: { sha256: string; size: number }) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      callback(new ArchiveIntegrityError(`archive is larger than recorded (${this.expected.size} bytes)`));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes !== this.expected.size) {
      callback(new ArchiveIntegrityError(`archive is truncated: ${this.bytes} of ${this.expected.size} bytes`));
      return;
    }
    const actual = this.hash.digest('hex');
    callback(
      actual === this.expected.sha256
        ? null
        : new ArchiveIntegrityError(`archive checksum mismatch: expected sha256 ${this.expected.sha256}, got ${actual}`),
    );
  }
}

/** The encoder for an archive encoding, or undefined for plain tar. */
export function createEncoder(encoding: ArchiveEncoding): Transform | undefined {
  // Brotli at quality 1: measured in docs/storage.md — a third of tar's size on
  // source trees, and fast enough on an already-compressed .git not to matter.
  return encoding === 'br'
    ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } })
    : undefined;
}

/**
 * Extracts a stored archive into `targetDir`, verifying it against `pointer`
 * while it streams. It is unpacked into a sibling folder that replaces
 * `targetDir` only once the whole archive checked out, so a corrupt or
 * truncated archive never leaves a half-restored workspace behind.
 */
export async function extractVerified(source: Readable, pointer: ArchivePointer, targetDir: string): Promise<void> {
  const staging = `${targetDir}.restore-${randomBytes(6).toString('hex')}`;
  await fs.mkdir(path.dirname(targetDir), { recursive: true });
  await fs.mkdir(staging, { recursive: true });
  // Errors of the source are transport failures (disk, network), passed on as
  // they are so callers can retry them; failures after it are the archive's.
  // Whichever stream errors first is where it started: pipeline then destroys
  // the others with the same error.
  let sourceFailedFirst: boolean | undefined;
  const stages: Array<Readable | NodeJS.WritableStream> = [source, new VerifyStream(pointer)];
  if (pointer.encoding === 'br') stages.push(zlib.createBrotliDecompress());
  stages.push(createExtractStream(staging));
  for (const stage of stages) stage.on('error', () => (sourceFailedFirst ??= stage === source));
  try {
    try {
      await pipeline(stages as unknown as [Readable, NodeJS.WritableStream]);
    } catch (error) {
      if (sourceFailedFirst || error instanceof ArchiveIntegrityError) throw error;
      throw new ArchiveIntegrityError(`archive could not be read: ${(error as Error).message}`, { cause: error });
    }
    await fs.rm(targetDir, { recursive: true, force: true });
    await fs.rename(staging, targetDir);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Parses a stored pointer, rejecting anything that is not one. */
export function parsePointer(text: string): ArchivePointer {
  const value = JSON.parse(text) as Partial<ArchivePointer>;
  if (
    typeof value.name !== 'string' ||
    typeof value.sha256 !== 'string' ||
    typeof value.size !== 'number' ||
    (value.encoding !== 'identity' && value.encoding !== 'br')
  ) {
    throw new ArchiveIntegrityError('archive pointer is malformed');
  }
  return value as ArchivePointer;
}
