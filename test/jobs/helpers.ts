import fs from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { startFakeAnthropic, type FakeAnthropic, type FakeScript } from '../fixtures/fake-anthropic.js';
import type { SseEvent } from '../fixtures/sse.js';
import { startWorker, type WorkerEnv, type WorkerHandle } from '../fixtures/worker.js';

/** Credentials that look real and are easy to grep for. */
export const OAUTH_ACCESS = 'sk-ant-oat01-JOBTEST-ACCESS-9f8e7d6c5b4a';
export const OAUTH_REFRESH = 'sk-ant-ort01-JOBTEST-REFRESH-1a2b3c4d5e6f';
export const API_KEY = 'sk-ant-api03-JOBTEST-APIKEY-0a9b8c7d6e5f';
export const SECRETS = [OAUTH_ACCESS, OAUTH_REFRESH, API_KEY];

export const OAUTH_CREDENTIALS = {
  claudeAiOauth: { accessToken: OAUTH_ACCESS, refreshToken: OAUTH_REFRESH, expiresAt: Date.now() + 3_600_000, scopes: ['user:inference'] },
};

/** A worker wired to a fresh fake model; dispose both with `close()`. */
export interface Rig {
  worker: WorkerHandle;
  fake: FakeAnthropic;
  close(): Promise<void>;
}

export async function startRig(script: FakeScript, env: WorkerEnv = {}): Promise<Rig> {
  const fake = await startFakeAnthropic(script);
  const worker = await startWorker({ env: { ANTHROPIC_BASE_URL: fake.url, ...env } });
  return {
    worker,
    fake,
    async close() {
      await worker.dispose();
      await fake.close();
    },
  };
}

export function claudeRequest(userRequest: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    userRequest,
    codingAssistantProvider: 'ClaudeAgentSDK',
    codingAssistantAuthentication: OAUTH_CREDENTIALS,
    ...extra,
  };
}

export function typesOf(events: SseEvent[]): string[] {
  return events.map((event) => event.data.type);
}

export function sessionWorkspace(worker: WorkerHandle, sessionId: string): string {
  return path.join(worker.dirs.workspace, 'sessions', sessionId, 'workspace');
}

/** Every file under `dir` (recursively), with its text, plus the entries of every stored archive. */
export async function readTree(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (current: string): Promise<void> => {
    for (const entry of await fs.readdir(current, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.set(full, await fs.readFile(full, 'latin1'));
    }
  };
  await walk(dir);
  return files;
}

/** Extracts every stored tar archive below `sessionsDir` into a temp folder and returns its files. */
export async function readArchives(sessionsDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [file] of await readTree(sessionsDir)) {
    if (!/archive[^/]*\.tar$/.test(path.basename(file))) continue;
    const target = await fs.mkdtemp(path.join(path.dirname(file), '..', '.extract-'));
    try {
      await tar.x({ file, cwd: target });
      for (const [inner, text] of await readTree(target)) out.set(`${file}!${path.relative(target, inner)}`, text);
    } finally {
      await fs.rm(target, { recursive: true, force: true });
    }
  }
  return out;
}

/** Asserts no secret string appears in the worker's logs or anywhere in its session store (archives unpacked). */
export async function findLeakedSecrets(worker: WorkerHandle, secrets = SECRETS): Promise<string[]> {
  const leaks: string[] = [];
  const logs = worker.logs();
  for (const secret of secrets) if (logs.includes(secret)) leaks.push(`logs contain ${secret}`);
  const stored = new Map([...(await readTree(worker.dirs.sessions)), ...(await readArchives(worker.dirs.sessions))]);
  for (const [file, text] of stored) {
    for (const secret of secrets) if (text.includes(secret)) leaks.push(`${file} contains ${secret}`);
  }
  return leaks;
}

/** Pids of processes whose working directory is inside `dir` (i.e. agents still running there). */
export async function processesUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cwd = await fs.readlink(`/proc/${name}/cwd`).catch(() => '');
    if (cwd.startsWith(dir)) pids.push(Number(name));
  }
  return pids;
}

/** Kills (by pid) agent processes a SIGKILLed worker may have left running in its workspace. */
export async function killLeftovers(dir: string): Promise<number[]> {
  const pids = await processesUnder(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
