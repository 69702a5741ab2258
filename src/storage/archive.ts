import { spawn } from 'node:child_process';
import { PassThrough, Writable, type Readable } from 'node:stream';

/**
 * Session snapshots are tar archives made and unpacked by the system's GNU
 * tar, streamed through this process without buffering: measured against
 * node-tar it packs ~4x and unpacks ~7x faster, and this process's memory
 * stays flat whatever the workspace size (docs/benchmarks.md).
 */

/** GNU tar's exit code 1 means "a file changed while it was read": the archive is still complete. */
const TAR_OK = new Set([0, 1]);

/** A tar stream of everything in `sourceDir`; it errors if tar fails. */
export function createArchiveStream(sourceDir: string): Readable {
  const child = spawn('tar', ['--create', '--file=-', `--directory=${sourceDir}`, '--warning=no-file-changed', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new PassThrough();
  const stderr = collect(child.stderr);
  child.stdout.pipe(output, { end: false });
  child.once('error', (error) => output.destroy(error));
  child.once('close', (code) => {
    if (code !== null && TAR_OK.has(code)) output.end();
    else output.destroy(new Error(`tar could not archive the session (exit ${code}): ${stderr()}`));
  });
  // A consumer that gives up (a failed upload) stops tar too.
  output.once('close', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  return output;
}

/**
 * A writable that unpacks the tar stream written to it into `targetDir`
 * (which must exist). It finishes only once tar has exited successfully.
 */
export function createExtractStream(targetDir: string): Writable {
  const child = spawn('tar', ['--extract', '--file=-', `--directory=${targetDir}`, '--no-same-owner'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const stderr = collect(child.stderr);
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`tar could not unpack the archive (exit ${code}): ${stderr()}`)),
    );
  });
  exited.catch(() => {});
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!child.stdin.write(chunk)) child.stdin.once('drain', () => callback());
      else callback();
    },
    final(callback) {
      child.stdin.end();
      exited.then(() => callback(), callback);
    },
    destroy(error, callback) {
      if (child.exitCode === null) child.kill('SIGTERM');
      callback(error);
    },
  });
}

function collect(stream: Readable): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (text.length < 4_000) text += chunk;
  });
  return () => text.trim();
}
