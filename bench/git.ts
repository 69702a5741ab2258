/**
 * Issue #3 benchmark: what the worker's git phases cost on a large repository
 * (~5,000 files, ~50 MB, three commits) served by the test suite's real git
 * smart-HTTP server on loopback. Baselines, in the same run: a plain
 * `git clone` with the token as an HTTP header, and a plain
 * `git add -A && git commit && git push` on an identical checkout.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkoutRepository, commitAndPush, type CheckoutResult, type RepositoryContext } from '../src/git/repository-phase.js';
import { Redactor } from '../src/secrets/redactor.js';
import { startGitServer } from '../test/fixtures/git-server.js';
import { fmt, median, table, tempDir, timed } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TOKEN = 'ghp_BenchmarkToken0123456789abcdefABCD';
const AUTH_HEADER = `Authorization: Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`;
const AUTHOR = { name: 'Bench Bot', email: 'bench@example.com' };
const CHANGED_FILES = 50;
const SHM = '/dev/shm';
/** Agent turns per checkout, each followed by a commit and push (the first pushes a new branch). */
const TURNS = 3;
const TRACED_TURNS = 3;

// ---------------------------------------------------------------------------
// A deterministic synthetic source tree, shared with bench/storage.ts.

export interface TreeSpec {
  files: number;
  bytes: number;
  /** Different seeds give different contents; the same seed gives the same bytes. */
  seed?: number;
}

const WORDS = (
  'const let function return if else for while import export from async await class interface type ' +
  'string number boolean undefined null true false new this extends implements public private readonly ' +
  'value result error options config request response session branch commit archive stream buffer ' +
  'handler listener event message payload status token header context signal timeout retry index ' +
  'parse format render update delete create read write open close start stop init reset flush ' +
  'user account order item price total count limit offset page cursor filter sort map reduce'
).split(' ');

/** xorshift32: fast, deterministic, good enough to make contents look random to compressors. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>>= 0);
  };
}

/** Source-like text: indented lines of words and numbered identifiers (compresses about 3-4x). */
function textContent(seed: number, size: number): Buffer {
  const next = random(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    let line = '  '.repeat(next() % 4);
    const words = 4 + (next() % 9);
    for (let w = 0; w < words; w++) {
      const word = WORDS[next() % WORDS.length]!;
      line += w === 0 ? word : next() % 5 === 0 ? ` ${word}${next() % 1000}` : ` ${word}`;
    }
    line += next() % 3 === 0 ? ';\n' : '\n';
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join('').slice(0, size));
}

/** Incompressible bytes, like images or build artefacts checked into a repository. */
function binaryContent(seed: number, size: number): Buffer {
  const next = random(seed);
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return Buffer.from(words.buffer, 0, size);
}

/** The relative path and contents of file `index` of a tree; one in five files is binary. */
export function treeFile(spec: TreeSpec, index: number, version = 0): { file: string; content: Buffer } {
  const seed = ((spec.seed ?? 1) * 1_000_003 + index * 7919 + version * 104_729) >>> 0;
  const next = random(seed ^ 0x5bd1e995);
  const mean = spec.bytes / spec.files;
  const size = Math.max(64, Math.round(mean * (0.2 + (next() % 1600) / 1000)));
  const folders = Math.max(1, Math.round(spec.files / 20));
  const folder = index % folders;
  const dir = `pkg-${folder % 16}/module-${Math.floor(folder / 16)}`;
  const binary = index % 5 === 4;
  const ext = binary ? 'bin' : ['ts', 'ts', 'md', 'json'][index % 4]!;
  return { file: `${dir}/file-${index}.${ext}`, content: binary ? binaryContent(seed, size) : textContent(seed, size) };
}

/** Writes the tree into `dir`; returns the number of files and bytes written. */
export async function generateTree(dir: string, spec: TreeSpec): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  for (let index = 0; index < spec.files; index++) {
    const { file, content } = treeFile(spec, index);
    await fs.mkdir(path.join(dir, path.dirname(file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), content);
    bytes += content.length;
  }
  return { files: spec.files, bytes };
}

/** Runs plain git with the caller's environment (plus a fixed identity); rejects with stderr. */
export function plainGit(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: AUTHOR.name,
          GIT_AUTHOR_EMAIL: AUTHOR.email,
          GIT_COMMITTER_NAME: AUTHOR.name,
          GIT_COMMITTER_EMAIL: AUTHOR.email,
          GIT_TERMINAL_PROMPT: '0',
        },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => (error ? reject(new Error(`git ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)),
    );
  });
}

/** A work tree with the generated files, committed (plus a second commit changing 5 % of them, and a third adding 1 %). */
export async function buildRepository(dir: string, spec: TreeSpec): Promise<{ files: number; bytes: number }> {
  const written = await generateTree(dir, spec);
  await plainGit(['init', '--quiet', '--initial-branch', 'main'], dir);
  // A background auto-gc would race the caller's own repack and leave a second pack.
  await plainGit(['config', 'gc.auto', '0'], dir);
  await plainGit(['add', '--all'], dir);
  await plainGit(['commit', '--quiet', '-m', 'Import'], dir);
  for (let index = 0; index < spec.files; index += 20) {
    const { file, content } = treeFile(spec, index, 1);
    await fs.writeFile(path.join(dir, file), content);
  }
  await plainGit(['commit', '--quiet', '--all', '-m', 'Rework every twentieth file'], dir);
  for (let index = spec.files; index < spec.files + Math.ceil(spec.files / 100); index++) {
    const { file, content } = treeFile(spec, index);
    await fs.mkdir(path.join(dir, path.dirname(file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), content);
  }
  await plainGit(['add', '--all'], dir);
  await plainGit(['commit', '--quiet', '-m', 'Add modules'], dir);
  return written;
}

/** One agent turn: rewrites 40 tracked files and adds 10 new ones, the same in every checkout. */
async function simulateAgent(repoDir: string, spec: TreeSpec, turn = 0): Promise<void> {
  for (let i = 0; i < CHANGED_FILES - 10; i++) {
    const { file, content } = treeFile(spec, i * 97 + turn, 2 + turn);
    await fs.writeFile(path.join(repoDir, file), content);
  }
  for (let i = 0; i < 10; i++) {
    const { file, content } = treeFile({ ...spec, seed: 99 + turn }, i);
    await fs.mkdir(path.join(repoDir, 'agent', path.dirname(file)), { recursive: true });
    await fs.writeFile(path.join(repoDir, 'agent', file), content);
  }
}

// ---------------------------------------------------------------------------

export async function benchGit(): Promise<string> {
  const spec: TreeSpec = { files: 5_000, bytes: 50 * 1024 * 1024, seed: 1 };
  // Everything (server repositories, checkouts, the worker's temp files) on
  // tmpfs when there is one: see settleDisk for what this VM's disk does to timings.
  const savedTmp = process.env.TMPDIR;
  if (await isWritableDir(SHM)) process.env.TMPDIR = SHM;
  const root = await tempDir('git');
  const onTmpfs = root.startsWith(SHM);
  const server = await startGitServer({ token: TOKEN });
  try {
    const seed = path.join(root, 'seed');
    await fs.mkdir(seed);
    const written = await buildRepository(seed, spec);
    const { url, bareDir } = await server.createRepo('bench/large', {});
    await plainGit(['push', '--quiet', bareDir, 'main'], seed);
    // As a hosting service keeps it: one pack with a bitmap index.
    await plainGit(['repack', '-a', '-d', '-q', '--write-bitmap-index'], bareDir);
    const packBytes = await folderBytes(path.join(bareDir, 'objects', 'pack'));

    const publicRepo = await server.createRepo('bench/large-public', {}, { public: true });
    await plainGit(['push', '--quiet', publicRepo.bareDir, 'main'], seed);
    await plainGit(['repack', '-a', '-d', '-q', '--write-bitmap-index'], publicRepo.bareDir);

    let run = 0;
    const ours = async (repoUrl: string): Promise<{ ctx: RepositoryContext; checkout: CheckoutResult }> => {
      const ctx = await newContext(root, repoUrl, `ours-${run++}`);
      return { ctx, checkout: await checkoutRepository(ctx) };
    };
    const plain = async (repoUrl: string): Promise<string> => {
      const dir = path.join(root, `plain-${run++}`, 'large');
      await plainClone(repoUrl, dir);
      return dir;
    };
    const settledTimed = async <T>(action: () => Promise<T>): Promise<{ ms: number; value: T }> => {
      await settleDisk();
      return timed(action);
    };

    // Warm-up: page cache, the server's first http-backend spawns.
    await ours(url);
    await plain(url);

    const cloneOurs: number[] = [];
    const clonePlain: number[] = [];
    const pushOurs: number[] = [];
    const pushPlain: number[] = [];
    const publicOurs: number[] = [];
    const publicPlain: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Alternate which side goes first, so neither always inherits the other's disk writeback.
      const oursFirst = i % 2 === 0;
      let a: { ms: number; value: { ctx: RepositoryContext; checkout: CheckoutResult } } | undefined;
      let b: { ms: number; value: string } | undefined;
      for (const side of oursFirst ? ['ours', 'plain'] : ['plain', 'ours']) {
        if (side === 'ours') a = await settledTimed(() => ours(url));
        else b = await settledTimed(() => plain(url));
      }
      cloneOurs.push(a!.ms);
      clonePlain.push(b!.ms);

      const plainDir = b!.value;
      const { ctx, checkout } = a!.value;
      for (let turn = 0; turn < TURNS; turn++) {
        await simulateAgent(checkout.repoDir, spec, turn);
        await simulateAgent(plainDir, spec, turn);
        for (const side of (oursFirst ? turn % 2 === 0 : turn % 2 === 1) ? ['ours', 'plain'] : ['plain', 'ours']) {
          if (side === 'ours') {
            const pushed = await settledTimed(() => commitAndPush(ctx, checkout));
            if (!pushed.value.pushed) throw new Error('commitAndPush did not push');
            pushOurs.push(pushed.ms);
          } else {
            const pushed = await settledTimed(() => plainCommitAndPush(plainDir, `bench-plain-${i}`));
            pushPlain.push(pushed.ms);
          }
        }
      }

      for (const side of oursFirst ? ['ours', 'plain'] : ['plain', 'ours']) {
        if (side === 'ours') publicOurs.push((await settledTimed(() => ours(publicRepo.url))).ms);
        else publicPlain.push((await settledTimed(() => plain(publicRepo.url))).ms);
      }
      // On disk, deleting would hand the next step a burst of TRIMs (see settleDisk); tmpfs has none.
      if (onTmpfs) await removeCheckouts(root);
    }

    const breakdown = await traceGitProcesses(root, url, spec);
    const spawns: number[] = [];
    for (let i = 0; i < 20; i++) spawns.push((await timed(() => plainGit(['--version'], root))).ms);

    const row = (step: string, baseline: number[], worker: number[]) => ({
      step,
      'plain git (baseline)': spread(baseline),
      worker: spread(worker),
      ratio: fmt(median(worker) / median(baseline), 2),
      target: '≤ 1.2',
    });
    return [
      `Repository: ${written.files + Math.ceil(spec.files / 100)} files, ${fmt(written.bytes / 2 ** 20)} MiB of work tree ` +
        `(four in five text, one in five incompressible), 3 commits, ${fmt(packBytes / 2 ** 20)} MiB pack on the server ` +
        `(git http-backend behind token auth, loopback). The agent step rewrites 40 files and adds 10. ` +
        `Medians (min–max) of ${RUNS} runs after one warm-up; the two sides alternate which goes first, each step starts after \`sync\`, ` +
        'and no checkout is deleted until the end. ' +
        (onTmpfs
          ? 'Repositories and checkouts are on tmpfs (`/dev/shm`), so disk noise does not hide the difference (see below).'
          : 'Repositories and checkouts are on disk (no tmpfs found).'),
      '',
      table([
        row('clone → agent can start (private repository: full clone)', clonePlain, cloneOurs),
        row('clone → agent can start (public repository: worker makes a blobless partial clone)', publicPlain, publicOurs),
        row(`commit + push of 50 changed files (${RUNS} checkouts × ${TURNS} turns)`, pushPlain, pushOurs),
      ]),
      '',
      `Where the time goes: both paths once more with every git process traced (per step: processes and their summed wall time; ` +
        `commit + push averaged over ${TRACED_TURNS} turns; the tracing shim itself adds a few ms per process):`,
      '',
      breakdown,
      '',
      `Starting one process (\`git --version\`) from this Node process takes ${fmt(median(spawns))} ms (median of 20), ` +
        'which the per-command times above do not include.',
    ].join('\n');
  } finally {
    await server.close();
    await fs.rm(root, { recursive: true, force: true });
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
}

/** The baseline clone: what a user types, with the token as an HTTP header. */
async function plainClone(repoUrl: string, dir: string): Promise<void> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  await plainGit(['-c', `http.extraHeader=${AUTH_HEADER}`, 'clone', '--quiet', repoUrl, dir], path.dirname(dir));
}

/** The baseline commit and push. */
async function plainCommitAndPush(dir: string, branch: string): Promise<void> {
  await plainGit(['add', '-A'], dir);
  await plainGit(['commit', '--quiet', '-m', 'x'], dir);
  await plainGit(['-c', `http.extraHeader=${AUTH_HEADER}`, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], dir);
}

async function newContext(root: string, repoUrl: string, name: string): Promise<RepositoryContext> {
  const workspaceDir = path.join(root, name, 'workspace');
  const homeDir = path.join(root, name, 'home');
  await fs.mkdir(workspaceDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(homeDir, { recursive: true, mode: 0o700 });
  return {
    sessionId: randomUUID(),
    workspaceDir,
    github: { repoUrl, accessToken: TOKEN },
    providerPrefix: 'claude',
    userRequestText: 'Refactor the request handlers',
    gitAuthor: AUTHOR,
    homeDir,
    emit: () => undefined,
    redactor: new Redactor(),
    signal: new AbortController().signal,
    generateText: undefined,
    githubApiUrl: 'http://127.0.0.1:9',
  };
}

/**
 * Runs both paths again — one clone, then TRACED_TURNS agent turns each
 * followed by a commit and push — with a `git` shim first on PATH that logs
 * every git process's subcommand and wall time; sums them per command.
 */
async function traceGitProcesses(root: string, repoUrl: string, spec: TreeSpec): Promise<string> {
  const shimDir = path.join(root, 'shim');
  const log = path.join(root, 'git-trace.log');
  const realGit = await whichGit();
  await fs.mkdir(shimDir, { recursive: true });
  await fs.writeFile(
    path.join(shimDir, 'git'),
    [
      '#!/bin/sh',
      'start=$(date +%s%N)',
      `${realGit} "$@"`,
      'code=$?',
      // The subcommand: the first argument that is neither an option nor the value of `-c`.
      'sub=; skip=; for arg in "$@"; do if [ -n "$skip" ]; then skip=; continue; fi; case "$arg" in -c) skip=1;; -*) ;; *) sub=$arg; break;; esac; done',
      `echo "$(( ($(date +%s%N) - start) / 1000 )) $sub" >> ${log}`,
      'exit $code',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const phases = new Map<string, { turns: number; totalMs: number; lines: string[] }>();
  const record = async (phase: string, action: () => Promise<unknown>): Promise<void> => {
    await drain(log);
    await settleDisk();
    const { ms: elapsed } = await timed(action);
    const entry = phases.get(phase) ?? { turns: 0, totalMs: 0, lines: [] };
    entry.turns += 1;
    entry.totalMs += elapsed;
    entry.lines.push(...(await drain(log)));
    phases.set(phase, entry);
  };
  const savedPath = process.env.PATH;
  // The worker's git environment copies PATH when its client is created.
  process.env.PATH = `${shimDir}:${savedPath ?? ''}`;
  try {
    const ctx = await newContext(root, repoUrl, 'traced');
    let checkout: CheckoutResult | undefined;
    await record('worker: clone', async () => (checkout = await checkoutRepository(ctx)));
    const plainDir = path.join(root, 'traced-plain', 'large');
    await record('plain: clone', () => plainClone(repoUrl, plainDir));
    for (let turn = 0; turn < TRACED_TURNS; turn++) {
      await simulateAgent(checkout!.repoDir, spec, turn);
      await simulateAgent(plainDir, spec, turn);
      await record('worker: commit + push', () => commitAndPush(ctx, checkout!));
      await record('plain: commit + push', () => plainCommitAndPush(plainDir, 'bench-traced'));
    }
  } finally {
    process.env.PATH = savedPath;
  }
  const rows = [...phases.entries()].flatMap(([phase, { turns, totalMs, lines }]) => {
    const byCommand = new Map<string, { count: number; ms: number }>();
    for (const line of lines) {
      const [micros = '0', name = ''] = line.split(' ');
      // The git server runs in this process, so its CGI processes go through the shim too.
      if (name === 'http-backend') continue;
      const entry = byCommand.get(name) ?? { count: 0, ms: 0 };
      entry.count += 1;
      entry.ms += Number(micros) / 1000;
      byCommand.set(name, entry);
    }
    const gitMs = [...byCommand.values()].reduce((sum, entry) => sum + entry.ms, 0);
    const processes = [...byCommand.values()].reduce((sum, entry) => sum + entry.count, 0);
    return [
      ...[...byCommand.entries()]
        .sort((x, y) => y[1].ms - x[1].ms)
        .map(([command, entry]) => ({ phase, 'git command': `\`git ${command}\``, processes: fmt(entry.count / turns, 0), 'wall time': ms(entry.ms / turns) })),
      { phase, 'git command': '**all git / whole step**', processes: fmt(processes / turns, 0), 'wall time': `${ms(gitMs / turns)} / ${ms(totalMs / turns)}` },
    ];
  });
  return table(rows);
}

/**
 * Flushes dirty pages before a timed step. This machine's disk is mounted with
 * online `discard`: writeback and the TRIMs of deleted files otherwise land in
 * whichever step runs next (a clone right after deleting the previous
 * checkouts took 4.6 s instead of 1.2 s, for plain git and the worker alike).
 */
export async function settleDisk(): Promise<void> {
  await new Promise<void>((resolve, reject) => execFile('sync', (error) => (error ? reject(error) : resolve())));
}

async function removeCheckouts(root: string): Promise<void> {
  for (const name of await fs.readdir(root)) {
    if (/^(ours|plain)-\d+$/.test(name)) await fs.rm(path.join(root, name), { recursive: true, force: true });
  }
}

async function isWritableDir(dir: string): Promise<boolean> {
  return fs.access(dir, fs.constants.W_OK).then(
    () => true,
    () => false,
  );
}

async function whichGit(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, 'git');
    if (await fs.access(candidate, fs.constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new Error('git is not on PATH');
}

async function drain(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  await fs.rm(file, { force: true });
  return text.split('\n').filter(Boolean);
}

async function folderBytes(dir: string): Promise<number> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  let total = 0;
  for (const entry of entries) if (entry.isFile()) total += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  return total;
}

const ms = (value: number): string => `${fmt(value, 0)} ms`;

/** "median ms (min–max)". */
const spread = (values: number[]): string => `${ms(median(values))} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`;
