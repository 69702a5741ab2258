/**
 * Does compressing the session archive pay? Tars a folder (default: a
 * synthetic session built from this repo's node_modules — a git repository
 * with packed history plus its checkout, and a JSONL agent transcript) and
 * reports size and median time of five runs for plain tar, gzip levels 1 and
 * 6, and brotli 1.
 *
 *   node --import tsx bench/archive-compression.ts [dir]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { createArchiveStream } from '../src/storage/archive.js';

interface Result {
  name: string;
  bytes: number;
  ms: number;
}

const codecs: Array<{ name: string; make?: () => Transform }> = [
  { name: 'tar' },
  { name: 'tar+gzip-1', make: () => zlib.createGzip({ level: 1 }) },
  { name: 'tar+gzip-6', make: () => zlib.createGzip({ level: 6 }) },
  {
    name: 'tar+brotli-1',
    make: () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }),
  },
];

async function measure(dir: string, make?: () => Transform): Promise<{ bytes: number; ms: number }> {
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
  });
  const started = performance.now();
  if (make) await pipeline(createArchiveStream(dir), make(), sink);
  else await pipeline(createArchiveStream(dir), sink);
  return { bytes, ms: performance.now() - started };
}

async function buildSyntheticSession(): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'acw-bench-'));
  const repo = path.join(root, 'workspace');
  await fs.cp(path.resolve('node_modules/@aws-sdk'), repo, { recursive: true, dereference: true });
  const git = (...args: string[]): void => {
    execFileSync('git', args, { cwd: repo, stdio: 'ignore' });
  };
  git('init', '-q');
  git('add', '-A');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', 'import');
  git('gc', '-q');
  const state = path.join(root, 'state');
  await fs.mkdir(state, { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) {
    lines.push(
      JSON.stringify({
        type: 'assistant',
        message: { role: 'assistant', content: [{ type: 'text', text: `Step ${i}: reading src/file-${i % 50}.ts and applying the change` }] },
        usage: { input_tokens: 1000 + i, output_tokens: 50 },
      }),
    );
  }
  await fs.writeFile(path.join(state, 'transcript.jsonl'), lines.join('\n'));
  return root;
}

const given = process.argv[2];
const dir = given ? path.resolve(given) : await buildSyntheticSession();
const targets: Array<[string, string]> = [['whole session', dir]];
const gitDir = path.join(dir, 'workspace', '.git');
if (!given) targets.push(['.git only', gitDir]);

for (const [label, target] of targets) {
  const results: Result[] = [];
  for (const codec of codecs) {
    await measure(target, codec.make); // warm the page cache
    const runs = [];
    for (let run = 0; run < 5; run++) runs.push(await measure(target, codec.make));
    runs.sort((a, b) => a.ms - b.ms);
    const median = runs[2]!;
    results.push({ name: codec.name, bytes: median.bytes, ms: median.ms });
  }
  const plain = results[0]!.bytes;
  console.log(`\n${label}: ${target}`);
  for (const result of results) {
    const ratio = ((result.bytes / plain) * 100).toFixed(1);
    const rate = (plain / 1024 / 1024 / (result.ms / 1000)).toFixed(0);
    console.log(
      `${result.name.padEnd(14)} ${(result.bytes / 1024 / 1024).toFixed(2).padStart(8)} MiB  ${ratio.padStart(5)}%  ${result.ms.toFixed(0).padStart(6)} ms  ${rate.padStart(5)} MiB/s of input`,
    );
  }
}
if (!given) await fs.rm(dir, { recursive: true, force: true });
