/**
 * Issue #4 benchmark: saving and restoring a session snapshot. A session
 * folder of ~5,000 files / ~50 MB plus its packed `.git` goes through
 * `saveArchive` / `restoreArchive` of both backends — fs in a temp folder, s3
 * against the test suite's s3rver on loopback — and, in the same run, through
 * a baseline of GNU tar plus one plain upload of the same bytes. Memory is
 * measured in a fresh child process per backend and size (50 and 150 MB).
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import * as tar from 'tar';
import { createArchiveStream, createExtractStream } from '../src/storage/archive.js';
import { FsSessionStore } from '../src/storage/fs.js';
import { createEncoder, DigestStream } from '../src/storage/integrity.js';
import { S3SessionStore } from '../src/storage/s3.js';
import type { SessionStore } from '../src/storage/types.js';
import { startS3Server, type S3TestServer } from '../test/fixtures/s3-server.js';
import { buildRepository, plainGit, settleDisk, type TreeSpec } from './git.js';
import { fmt, median, REPO_ROOT, table, tempDir, timed } from './lib.js';

// Three, not BENCH_RUNS' default of 7: each save and restore of the large session takes seconds on this machine.
const RUNS = Math.min(Number(process.env.BENCH_RUNS ?? 3), 3);
const BUCKET = 'bench-sessions';
const SAMPLE_MS = 20;
const DIAGNOSE_RUNS = 1;

export async function benchStorage(): Promise<string> {
  const root = await tempDir('storage');
  const s3 = await startS3Server({ bucket: BUCKET });
  const s3Store = new S3SessionStore(s3Options(s3));
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
  try {
    const small = await buildSession(path.join(root, 'session-50'), { files: 5_000, bytes: 50 * 2 ** 20, seed: 1 });
    const fsStore = new FsSessionStore(path.join(root, 'fs-store'));
    await fsStore.init();
    await s3Store.init();

    let n = 0;
    const target = (): string => path.join(root, 'restored', `r-${n++}`);
    const baselineFile = (): string => path.join(root, 'baseline', `b-${n++}.tar`);
    await fs.mkdir(path.join(root, 'baseline'), { recursive: true });

    // Sides: [save, restore] of the worker's store and of the baseline. Every
    // save gets a new session id / file: nothing is deleted while timing (see settleDisk).
    const fsSides = {
      ours: async () => {
        const id = randomUUID();
        const save = await settled(() => fsStore.saveArchive(id, small.dir));
        const restore = await settled(() => fsStore.restoreArchive(id, target()));
        return [save, restore] as const;
      },
      baseline: async () => {
        const file = baselineFile();
        const save = await settled(() => run('tar', ['-c', '-C', small.dir, '-f', file, '.']));
        const dir = target();
        await fs.mkdir(dir, { recursive: true });
        const restore = await settled(() => run('tar', ['-x', '-C', dir, '-f', file]));
        return [save, restore] as const;
      },
    };
    const s3Sides = {
      ours: async () => {
        const id = randomUUID();
        const save = await settled(() => s3Store.saveArchive(id, small.dir));
        const restore = await settled(() => s3Store.restoreArchive(id, target()));
        return [save, restore] as const;
      },
      baseline: async () => {
        const key = `baseline/${randomUUID()}.tar`;
        const save = await settled(() => uploadTar(client, small.dir, key));
        const dir = target();
        await fs.mkdir(dir, { recursive: true });
        const restore = await settled(() => downloadUntar(client, key, dir));
        return [save, restore] as const;
      },
    };

    const results: Record<string, { save: number[]; restore: number[] }> = {};
    for (const [backend, sides] of [['fs', fsSides], ['s3', s3Sides]] as const) {
      await sides.ours(); // warm-up: page cache, SDK connections, s3rver's first writes
      await sides.baseline();
      for (let i = 0; i < RUNS; i++) {
        for (const side of i % 2 === 0 ? (['ours', 'baseline'] as const) : (['baseline', 'ours'] as const)) {
          const [save, restore] = await sides[side]();
          const entry = (results[`${backend} ${side}`] ??= { save: [], restore: [] });
          entry.save.push(save);
          entry.restore.push(restore);
        }
      }
    }

    const diagnosis = await diagnose(small.dir, root);

    const large = await buildSession(path.join(root, 'session-150'), { files: 15_000, bytes: 150 * 2 ** 20, seed: 2 });
    const memoryRows: Array<Record<string, string>> = [];
    for (const backend of ['fs', 's3'] as const) {
      for (const session of [small, large]) {
        const probe = { backend, dir: session.dir, sessionId: randomUUID(), fsRoot: path.join(root, 'fs-store-memory'), s3: s3Options(s3) };
        const save = await measureMemoryInChild({ ...probe, op: 'save' });
        const restore = await measureMemoryInChild({ ...probe, op: 'restore', restoreTo: target() });
        memoryRows.push({
          backend,
          'session folder': `${fmt(session.bytes / 2 ** 20, 0)} MiB, ${session.files} files`,
          'save: peak − before': `${fmt(save.sampled, 1)} MiB (${fmt(save.hwm, 1)})`,
          'restore: peak − before': `${fmt(restore.sampled, 1)} MiB (${fmt(restore.hwm, 1)})`,
          'save: RSS − before at each tenth of its duration (MiB)': save.deciles.map((value) => fmt(value, 0)).join(' '),
        });
      }
    }

    const row = (backend: 'fs' | 's3', op: 'save' | 'restore') => {
      const ours = results[`${backend} ours`]![op];
      const base = results[`${backend} baseline`]![op];
      return {
        backend,
        operation: op === 'save' ? '`saveArchive`' : '`restoreArchive`',
        baseline: spread(base),
        worker: spread(ours),
        ratio: fmt(median(ours) / median(base), 2),
        target: '≤ 1.3',
      };
    };
    const total = (backend: 'fs' | 's3') => {
      const sum = (side: string) => median(results[`${backend} ${side}`]!.save) + median(results[`${backend} ${side}`]!.restore);
      return { backend, operation: 'save + restore', baseline: ms(sum('baseline')), worker: ms(sum('ours')), ratio: fmt(sum('ours') / sum('baseline'), 2), target: '≤ 1.3' };
    };

    return [
      `Session folder: ${small.files} files, ${fmt(small.bytes / 2 ** 20, 1)} MiB on disk (work tree of ${fmt(small.treeBytes / 2 ** 20, 1)} MiB, ` +
        `four in five files text, plus its \`.git\`: 3 commits, one ${fmt(small.packBytes / 2 ** 20, 1)} MiB pack). ` +
        'Baselines: fs — `tar -c -C dir -f file .` then `tar -x`; s3 — `tar -c` piped into one `Upload` (lib-storage defaults), ' +
        'then `GetObject` piped into `tar -x`. Worker: `FsSessionStore` (plain tar, sha256, fsync, pointer) and `S3SessionStore` ' +
        '(GNU tar streamed → sha256 → multipart upload, 5 MiB parts, 2 in flight, uncompressed by default; restore verifies and unpacks into a staging folder) ' +
        `against s3rver on 127.0.0.1. Medians (min–max) of ${RUNS} runs after a warm-up, sides alternating, each step after \`sync\`.`,
      '',
      table([row('fs', 'save'), row('fs', 'restore'), total('fs'), row('s3', 'save'), row('s3', 'restore'), total('s3')]),
      '',
      'Where the time goes (same session folder, one run each, in this process):',
      '',
      diagnosis,
      '',
      `Memory of a fresh worker-like process per operation: \`process.memoryUsage().rss\` sampled every ${SAMPLE_MS} ms, ` +
        'peak minus the value just before the operation (in parentheses: the kernel’s peak RSS, `VmHWM`, reset just before it). ' +
        'The s3 server runs in its own process and is not counted.',
      '',
      table(memoryRows),
    ].join('\n');
  } finally {
    client.destroy();
    s3Store.destroy();
    await s3.dispose();
    await fs.rm(root, { recursive: true, force: true });
  }
}

interface Session {
  dir: string;
  files: number;
  bytes: number;
  treeBytes: number;
  packBytes: number;
}

/** `<dir>/workspace/repo` with the generated tree committed and packed, as a clone leaves it. */
async function buildSession(dir: string, spec: TreeSpec): Promise<Session> {
  const repo = path.join(dir, 'workspace', 'repo');
  await fs.mkdir(repo, { recursive: true });
  const written = await buildRepository(repo, spec);
  await plainGit(['repack', '-a', '-d', '-q'], repo);
  await plainGit(['prune'], repo);
  let files = 0;
  let bytes = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  }
  let packBytes = 0;
  for (const name of await fs.readdir(path.join(repo, '.git', 'objects', 'pack'))) {
    packBytes += (await fs.stat(path.join(repo, '.git', 'objects', 'pack', name))).size;
  }
  return { dir, files, bytes, treeBytes: written.bytes, packBytes };
}

function s3Options(s3: S3TestServer) {
  return { endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, useSsl: false, bucket: BUCKET };
}

async function settled(action: () => Promise<unknown>): Promise<number> {
  await settleDisk();
  return (await timed(action)).ms;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { maxBuffer: 16 * 2 ** 20 }, (error, _stdout, stderr) => (error ? reject(new Error(`${command}: ${stderr || error.message}`)) : resolve())),
  );
}

/** The s3 baseline save: GNU tar's stdout as the body of one `Upload`. */
async function uploadTar(client: S3Client, dir: string, key: string): Promise<void> {
  const child = spawn('tar', ['-c', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = exitOf(child, 'tar -c');
  await new Upload({ client, params: { Bucket: BUCKET, Key: key, Body: child.stdout } }).done();
  await exited;
}

/** The s3 baseline restore: the object's body into GNU tar's stdin. */
async function downloadUntar(client: S3Client, key: string, dir: string): Promise<void> {
  const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const child = spawn('tar', ['-x', '-C', dir], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = exitOf(child, 'tar -x');
  await pipeline(object.Body as Readable, child.stdin);
  await exited;
}

async function tarToPipe(dir: string): Promise<void> {
  const child = spawn('tar', ['-c', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.resume();
  await exitOf(child, 'tar -c');
}

/** How long fsync of a just-written archive takes (what FsSessionStore pays and the baseline does not). */
async function fsyncFresh(dir: string, file: string): Promise<number> {
  await settleDisk();
  await run('tar', ['-c', '-C', dir, '-f', file, '.']);
  const handle = await fs.open(file, 'r');
  try {
    return (await timed(() => handle.sync())).ms;
  } finally {
    await handle.close();
  }
}

function exitOf(child: ReturnType<typeof spawn>, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`))));
  });
}

/** Splits the worker's save and restore into their parts, against GNU tar. */
async function diagnose(dir: string, root: string): Promise<string> {
  const nullSink = (counter: { bytes: number }) =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        counter.bytes += chunk.length;
        callback();
      },
    });
  const tarFile = path.join(root, 'diagnose.tar');
  const brFile = path.join(root, 'diagnose.tar.br');
  await pipeline(createArchiveStream(dir), createWriteStream(tarFile));
  await pipeline(createArchiveStream(dir), createEncoder('br')!, createWriteStream(brFile));
  const tarBytes = (await fs.stat(tarFile)).size;
  const brBytes = (await fs.stat(brFile)).size;
  let n = 0;
  const measure = async (action: () => Promise<unknown>): Promise<number> => {
    const runs: number[] = [];
    for (let i = 0; i < DIAGNOSE_RUNS; i++) runs.push(await settled(action));
    return median(runs);
  };
  const unpackTo = async (): Promise<string> => {
    const target = path.join(root, 'diagnose-out', `d-${n++}`);
    await fs.mkdir(target, { recursive: true });
    return target;
  };
  const rows = [
    // Not `-f /dev/null`: GNU tar notices it and skips reading the files.
    { step: 'GNU tar -c → pipe', time: await measure(() => tarToPipe(dir)) },
    { step: 'the worker’s `createArchiveStream` (GNU tar, streamed through this process) → memory sink', time: await measure(() => pipeline(createArchiveStream(dir), nullSink({ bytes: 0 }))) },
    {
      step: `\`createArchiveStream\` → brotli 1 (ARCHIVE_COMPRESSION=br) → memory sink (${fmt(tarBytes / 2 ** 20, 1)} → ${fmt(brBytes / 2 ** 20, 1)} MiB)`,
      time: await measure(() => pipeline(createArchiveStream(dir), createEncoder('br')!, nullSink({ bytes: 0 }))),
    },
    { step: 'GNU tar -x of the tar file', time: await measure(async () => run('tar', ['-x', '-C', await unpackTo(), '-f', tarFile])) },
    { step: 'the worker’s `createExtractStream` (GNU tar) of the tar file', time: await measure(async () => pipeline(createReadStream(tarFile), createExtractStream(await unpackTo()))) },
    { step: `sha256 of the ${fmt(tarBytes / 2 ** 20, 1)} MiB tar (\`DigestStream\`)`, time: await measure(() => pipeline(createReadStream(tarFile), new DigestStream(), nullSink({ bytes: 0 }))) },
    { step: 'fsync of a freshly written tar file of that size', time: await fsyncFresh(dir, path.join(root, 'diagnose-fsync.tar')) },
    {
      step: 'brotli decompress → node-tar of the .tar.br file (for comparison)',
      time: await measure(async () => {
        const target = await unpackTo();
        await pipeline(createReadStream(brFile), zlib.createBrotliDecompress(), tar.x({ cwd: target }) as unknown as Writable);
      }),
    },
  ];
  return table(rows.map(({ step, time }) => ({ step, time: ms(time) })));
}

// ---------------------------------------------------------------------------
// Memory, in a fresh child process per measurement.

interface MemoryProbe {
  backend: 'fs' | 's3';
  op: 'save' | 'restore';
  sessionId: string;
  dir: string;
  fsRoot: string;
  s3: ReturnType<typeof s3Options>;
  restoreTo?: string;
}

interface MemoryResult {
  /** RSS before the operation, MiB. */
  before: number;
  /** Sampled peak minus before, MiB. */
  sampled: number;
  /** VmHWM minus before, MiB. */
  hwm: number;
  /** The highest sample in each tenth of the operation's duration, minus before, MiB. */
  deciles: number[];
}

async function measureMemoryInChild(probe: MemoryProbe): Promise<MemoryResult> {
  const self = new URL(import.meta.url).pathname;
  const code = `import { probeMemory } from ${JSON.stringify(self)};\nconsole.log(JSON.stringify(await probeMemory(${JSON.stringify(probe)})));`;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, maxBuffer: 2 ** 20 }, (error, out, stderr) =>
      error ? reject(new Error(`memory probe failed: ${stderr || error.message}`)) : resolve(out),
    ),
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as MemoryResult;
}

/**
 * Runs in a fresh child process, like a worker starting a job: one save or
 * one restore, with RSS sampled from just before it to its end.
 */
export async function probeMemory(probe: MemoryProbe): Promise<MemoryResult> {
  const store: SessionStore = probe.backend === 'fs' ? new FsSessionStore(probe.fsRoot) : new S3SessionStore(probe.s3);
  await store.init();
  // Load what the operation needs (SDK commands, tar, zlib) before the baseline.
  await store.readMetadata(probe.sessionId);
  const result = await peakDuring(() =>
    probe.op === 'save' ? store.saveArchive(probe.sessionId, probe.dir) : store.restoreArchive(probe.sessionId, probe.restoreTo!),
  );
  if (store instanceof S3SessionStore) store.destroy();
  return result;
}

async function peakDuring(action: () => Promise<unknown>): Promise<MemoryResult> {
  const mib = (bytes: number) => bytes / 2 ** 20;
  // Writing 5 to clear_refs resets the kernel's peak RSS (VmHWM) to the current RSS.
  await fs.writeFile('/proc/self/clear_refs', '5').catch(() => undefined);
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const samples: Array<[number, number]> = [];
  const sample = () => samples.push([performance.now() - started, process.memoryUsage().rss]);
  const timer = setInterval(sample, SAMPLE_MS);
  try {
    await action();
  } finally {
    clearInterval(timer);
  }
  sample();
  const duration = performance.now() - started;
  const status = await fs.readFile('/proc/self/status', 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  const deciles = Array.from({ length: 10 }, (_, tenth) => {
    const inTenth = samples.filter(([at]) => Math.min(9, Math.floor((at / duration) * 10)) === tenth).map(([, rss]) => rss);
    return inTenth.length ? mib(Math.max(...inTenth) - before) : Number.NaN;
  });
  const peak = Math.max(before, ...samples.map(([, rss]) => rss));
  return { before: mib(before), sampled: mib(peak - before), hwm: mib(hwm - before), deciles };
}

const ms = (value: number): string => `${fmt(value, 0)} ms`;
const spread = (values: number[]): string => `${ms(median(values))} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`;
