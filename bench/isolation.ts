/**
 * Issue #8 benchmark: what running each job's agent under a uid of its own
 * (AGENT_ISOLATION) adds to a job. Two built workers run against the same fake
 * model — one with AGENT_ISOLATION=off (the agent runs as the worker's user,
 * root here), one with AGENT_ISOLATION=required (the agent runs through
 * `setpriv` as the slot's uid) — and the same job (one Write tool call, then an
 * answer) alternates between them. Then the isolated path's own steps are timed
 * one by one to show where the difference goes.
 *
 *   npm run build && node --import tsx bench/isolation.ts
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { processesOfUser } from '../src/isolation/processes.js';
import { setUpIsolation } from '../src/isolation/setup.js';
import type { AgentUser } from '../src/isolation/types.js';
import { startFakeAnthropic } from '../test/fixtures/fake-anthropic.js';
import { executeThroughWorker, fmt, median, startBuiltWorker, table, tempDir, timed, type BenchWorker } from './lib.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const STARTS = 3;
const STEP_RUNS = 20;
const API_KEY = 'sk-ant-api03-BENCHMARK-KEY-000000';
/** Apart from the test suite's 61000-61999, so a benchmark never takes a test's uid. */
const UID_RANGE = '62000-62009';
const TARGET_MS = 20;

type Side = 'off' | 'required';
const SIDES: Side[] = ['off', 'required'];

export async function benchIsolation(): Promise<string> {
  if (process.getuid?.() !== 0) {
    return `Not measured: this run is not root (uid ${process.getuid?.()}), and only a root worker can run agents under uids of their own, so there is no isolated side to compare.`;
  }
  let written = 0;
  // One Write per turn, to a new file each time (a resumed conversation keeps its history,
  // so the turn is told apart by its last message, not by the conversation's length).
  const fake = await startFakeAnthropic(({ request }) => {
    const messages = (request.body.messages ?? []) as Array<{ role?: string; content?: unknown }>;
    const last = messages[messages.length - 1];
    const afterTool = Array.isArray(last?.content) && last.content.some((block: { type?: string }) => block?.type === 'tool_result');
    return afterTool
      ? { type: 'text', text: 'Done.' }
      : { type: 'tool_use', name: 'Write', input: { file_path: `bench-${written++}.txt`, content: 'benchmark\n' } };
  });
  const root = await tempDir('isolation');
  // Other uids must pass through the temp root to reach their workspace (mkdtemp makes it 0700).
  await fs.chmod(root, 0o711);
  try {
    const startups: Record<Side, number[]> = { off: [], required: [] };
    for (let i = 0; i < STARTS; i++) {
      for (const side of i % 2 ? [...SIDES].reverse() : SIDES) {
        const worker = await startBuiltWorker(await workerEnv(root, fake.url, side, `startup-${i}`), 5700 + 2 * i + (side === 'off' ? 0 : 1));
        startups[side].push(worker.startupMs);
        await worker.stop();
      }
    }

    const workers = {} as Record<Side, BenchWorker>;
    const fresh: Record<Side, number[]> = { off: [], required: [] };
    const resumed: Record<Side, number[]> = { off: [], required: [] };
    const resumedId: Record<Side, string> = { off: randomUUID(), required: randomUUID() };
    const freshIds: Record<Side, string[]> = { off: [], required: [] };
    const isolation = {} as Record<Side, { mode: string; uids?: number[] }>;
    try {
      workers.off = await startBuiltWorker(await workerEnv(root, fake.url, 'off', 'jobs'), 5720);
      workers.required = await startBuiltWorker(await workerEnv(root, fake.url, 'required', 'jobs'), 5721);
      for (const side of SIDES) {
        const health = (await (await fetch(`${workers[side].url}/health`)).json()) as { isolation: { mode: string; uids?: number[] } };
        isolation[side] = health.isolation;
      }
      if (isolation.off.mode !== 'none' || isolation.required.mode !== 'uid') {
        throw new Error(`unexpected isolation modes: off → ${isolation.off.mode}, required → ${isolation.required.mode}`);
      }
      const job = async (side: Side, sessionId: string): Promise<number> => {
        const result = await executeThroughWorker(workers[side].url, jobBody(sessionId));
        if (result.last !== 'completed') throw new Error(`${side}: job ended with ${result.last}`);
        return result.totalMs;
      };
      // Warm-up: a new session, and the first turn of the session that is resumed below.
      for (const side of SIDES) {
        await job(side, randomUUID());
        await job(side, resumedId[side]);
      }
      for (let i = 0; i < RUNS; i++) {
        for (const side of i % 2 ? [...SIDES].reverse() : SIDES) {
          const id = randomUUID();
          freshIds[side].push(id);
          fresh[side].push(await job(side, id));
        }
        for (const side of i % 2 ? [...SIDES].reverse() : SIDES) resumed[side].push(await job(side, resumedId[side]));
      }
    } finally {
      await Promise.all(Object.values(workers).map((worker) => worker.stop()));
    }

    // Every job wrote its file, as the uid it ran under.
    const checks: string[] = [];
    for (const side of SIDES) {
      const sessions = path.join(root, side, 'jobs', 'workspace', 'sessions');
      const owners = new Set<number>();
      for (const id of freshIds[side]) {
        const files = await fs.readdir(path.join(sessions, id, 'workspace'));
        if (files.length !== 1) throw new Error(`${side}: new session ${id} holds ${files.join(', ') || 'no file'}`);
        owners.add((await fs.stat(path.join(sessions, id, 'workspace', files[0]!))).uid);
      }
      const expected = side === 'off' ? process.getuid?.() : isolation.required.uids?.[0];
      if (owners.size !== 1 || !owners.has(expected!)) throw new Error(`${side}: files owned by uid ${[...owners].join(', ')}, expected ${expected}`);
      const resumedFiles = (await fs.readdir(path.join(sessions, resumedId[side], 'workspace'))).filter((name) => name.startsWith('bench-'));
      if (resumedFiles.length !== RUNS + 1) throw new Error(`${side}: resumed session holds ${resumedFiles.length} files, expected ${RUNS + 1}`);
      checks.push(`${side === 'off' ? 'without isolation' : `with isolation (slot uid ${isolation.required.uids?.join(', ')})`}: files owned by uid ${[...owners].join(', ')}`);
    }

    const steps = await measureSteps(path.join(root, 'steps'));
    const row = (metric: string, samples: Record<Side, number[]>) => {
      const off = median(samples.off);
      const on = median(samples.required);
      return {
        metric,
        'without isolation (baseline)': `${fmt(off)} ms (${range(samples.off)})`,
        'with isolation': `${fmt(on)} ms (${range(samples.required)})`,
        'isolation adds: difference of medians': `${fmt(on - off)} ms`,
        'paired differences: median (mean ± 95 % CI)': paired(samples),
        ratio: fmt(on / off, 3),
      };
    };
    const estimate = (workspaceChowns: number) =>
      steps.setprivMs - steps.spawnMs + 2 * steps.chownHomeMs + workspaceChowns * steps.chownWorkspaceMs + 3 * steps.scanMs;
    return [
      `Runs: ${RUNS} jobs per side and kind (medians, min–max in parentheses), same fake model, both workers up at once, sides alternating; ` +
        `every job ended \`completed\` and wrote its file (${checks.join('; ')}). Start-up: ${STARTS} starts per side.`,
      '',
      table([
        row(`job wall time, new session each job (target: adds < ${TARGET_MS} ms)`, fresh),
        row('job wall time, resumed session (local copy reused, workspace not chowned again)', resumed),
        row('start-up to ready /health', startups),
      ]),
      '',
      `Where the time goes: the isolated path's own steps, each timed ${STEP_RUNS} times on its own in this process (medians; ${steps.processes} processes on the machine).`,
      '',
      table([
        { step: 'spawn `true` directly (what an unisolated spawn costs)', time: `${fmt(steps.spawnMs)} ms`, 'calls per job (new / resumed)': '—' },
        { step: '`setpriv --reuid … --no-new-privs … -- true` (the agent CLI starts through it)', time: `${fmt(steps.setprivMs)} ms`, 'calls per job (new / resumed)': '1 / 1' },
        { step: '`handOver` of a fresh private home (at creation, then with `.claude/`; lchown below 200 entries, else `chown -R`)', time: `${fmt(steps.chownHomeMs)} ms`, 'calls per job (new / resumed)': '2 / 2' },
        { step: '`handOver` of a new session\'s empty workspace (`openSessionFolder`)', time: `${fmt(steps.chownWorkspaceMs)} ms`, 'calls per job (new / resumed)': '1 / 0' },
        { step: '`/proc` scan for the uid\'s processes (`killAll` with nothing left)', time: `${fmt(steps.scanMs)} ms`, 'calls per job (new / resumed)': '3 / 3' },
        {
          step: 'for comparison: the same home walked with `lchown` from Node (no process)',
          time: `${fmt(steps.lchownHomeMs)} ms`,
          'calls per job (new / resumed)': '—',
        },
        {
          step: '**per job: setpriv − plain spawn + chowns + scans**',
          time: `${fmt(estimate(1))} / ${fmt(estimate(0))} ms`,
          'calls per job (new / resumed)': '',
        },
        {
          step: '`setUpIsolation` at start-up (claim a uid, lay out WORKSPACE_DIR, probe through `setpriv`, scan `/proc` for leftovers), once',
          time: `${fmt(steps.setUpMs)} ms`,
          'calls per job (new / resumed)': '0 (start-up only)',
        },
      ]),
    ].join('\n');
  } finally {
    await fake.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

/**
 * The worker's folders under `<root>/<side>/<name>`. Those two levels are made passable
 * (0711) first: the worker creates SESSIONS_DIR and WORKSPACE_DIR with their missing
 * parents as 0700, and the isolated worker's agents must get through to WORKSPACE_DIR.
 */
async function workerEnv(root: string, modelUrl: string, side: Side, name: string): Promise<Record<string, string>> {
  for (const dir of [path.join(root, side), path.join(root, side, name)]) {
    await fs.mkdir(dir, { recursive: true });
    await fs.chmod(dir, 0o711);
  }
  return {
    ANTHROPIC_BASE_URL: modelUrl,
    AGENT_ISOLATION: side,
    AGENT_UID_RANGE: UID_RANGE,
    WORKSPACE_DIR: path.join(root, side, name, 'workspace'),
    SESSIONS_DIR: path.join(root, side, name, 'sessions'),
  };
}

function jobBody(websiteSessionId: string) {
  return { userRequest: 'Write bench.txt', codingAssistantProvider: 'claude', codingAssistantAuthentication: API_KEY, websiteSessionId };
}

/** Run i of one side against run i of the other: the median, and the mean with its 95 % confidence interval. */
function paired(samples: Record<Side, number[]>): string {
  const diffs = samples.required.map((value, i) => value - samples.off[i]!);
  if (diffs.length < 2) return '';
  const mean = diffs.reduce((sum, value) => sum + value, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (diffs.length - 1));
  return `${fmt(median(diffs))} ms (${fmt(mean)} ± ${fmt((1.96 * sd) / Math.sqrt(diffs.length))})`;
}

function range(values: number[]): string {
  return `${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)}`;
}

interface StepTimes {
  spawnMs: number;
  setprivMs: number;
  chownHomeMs: number;
  chownWorkspaceMs: number;
  /** The same home walked with `lchown` calls from this process instead of a `chown` process. */
  lchownHomeMs: number;
  scanMs: number;
  /** `setUpIsolation` once, as at start-up. */
  setUpMs: number;
  processes: number;
}

/** Times each step the isolated path adds, with the worker's own `SeparateUser`. */
async function measureSteps(dir: string): Promise<StepTimes> {
  const workspaceDir = path.join(dir, 'workspace');
  const [first, last] = UID_RANGE.split('-').map(Number) as [number, number];
  const setUp = await timed(() =>
    setUpIsolation({ setting: 'required', uidRange: { first, last }, slots: 1, workspaceDir, logger: pino({ level: 'silent' }) }),
  );
  const user: AgentUser = setUp.value.users[0]!;
  const samples = { spawn: [] as number[], setpriv: [] as number[], home: [] as number[], workspace: [] as number[], scan: [] as number[], lchown: [] as number[] };
  for (let i = 0; i < STEP_RUNS; i++) {
    samples.spawn.push((await timed(() => exec('true', []))).ms);
    const switched = user.command('true', []);
    samples.setpriv.push((await timed(() => exec(switched.command, switched.args))).ms);

    // As createPrivateHome and the Claude provider lay it out.
    const home = path.join(workspaceDir, 'homes', `bench-${i}`);
    await fs.mkdir(path.join(home, 'tmp'), { recursive: true, mode: 0o700 });
    samples.home.push((await timed(() => user.handOver(home))).ms);
    await fs.mkdir(path.join(home, '.claude'), { mode: 0o700 });
    await fs.writeFile(path.join(home, '.claude', '.credentials.json'), '{}', { mode: 0o600 });
    samples.home.push((await timed(() => user.handOver(home))).ms);
    samples.lchown.push((await timed(() => lchownTree(home, user.uid))).ms);

    const workspace = path.join(workspaceDir, 'sessions', `bench-${i}`, 'workspace');
    await fs.mkdir(workspace, { recursive: true, mode: 0o700 });
    samples.workspace.push((await timed(() => user.handOver(workspace))).ms);

    samples.scan.push((await timed(() => user.killAll())).ms);
  }
  const processes = (await fs.readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).length;
  if ((await processesOfUser(user.uid)).length > 0) throw new Error(`uid ${user.uid} still has processes`);
  return {
    spawnMs: median(samples.spawn),
    setprivMs: median(samples.setpriv),
    chownHomeMs: median(samples.home),
    chownWorkspaceMs: median(samples.workspace),
    lchownHomeMs: median(samples.lchown),
    scanMs: median(samples.scan),
    setUpMs: setUp.ms,
    processes,
  };
}

async function lchownTree(dir: string, uid: number): Promise<void> {
  const entries = await fs.readdir(dir, { recursive: true });
  for (const entry of [dir, ...entries.map((name) => path.join(dir, name))]) await fs.lchown(entry, uid, uid);
}

function exec(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('## Agent isolation (issue #8)\n');
  console.log(await benchIsolation());
}
