/**
 * Codex through `@openai/codex-sdk`, which drives the native `codex exec --experimental-json`.
 * Everything Codex-specific (private CODEX_HOME, config.toml, auth.json, rollout files,
 * process handling) lives here and in `codex-credentials.ts`. Findings behind the
 * choices: docs/codex-provider-notes.md.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Codex, CodexOptions, Input, ThreadEvent, ThreadOptions, Usage, UserInput } from '@openai/codex-sdk';
import { invalidField } from '../errors/worker-error.js';
import type { AgentUser } from '../isolation/types.js';
import { codexUsage, normalizeCodexEvent } from './codex-normalize.js';
import { resolveSandboxMode, sandboxFailureOf } from './codex-sandbox.js';
import { generateCodexText } from './codex-text.js';
import { copyStateFiles, isDirectory, secretRedactor } from './state-files.js';
import { codexProxyPlan, installCodexCredentials, parseCodexCredentials } from './codex-credentials.js';
import { stopMarkedProcesses } from './process-sweep.js';
import type { Provider, ProviderRunInput, ProviderRunResult, ProviderUsage, UserRequest } from './types.js';

const REASONING_EFFORTS = ['minimal', 'low', 'medium', 'high', 'xhigh'] as const;

/** How long the agent's processes get after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 1_500;
/** Where the provider keeps its state inside the session's state folder. */
const STATE_DIR = 'codex';
const STATE_SESSIONS = join(STATE_DIR, 'sessions');
const STATE_THREAD = join(STATE_DIR, 'thread.json');
const IMAGE_EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' };

export const codexProvider: Provider = {
  name: 'codex',
  aliases: ['codexsdk', 'codex', 'openai'],
  capabilities: { images: true, resume: true },
  parseCredentials: parseCodexCredentials,
  proxyPlan: codexProxyPlan,
  run: runCodex,
  normalize: normalizeCodexEvent,
  generateText: generateCodexText,
};

/** What the provider remembers between turns: the thread's cumulative usage, to report per-run deltas. */
interface ThreadState {
  threadId: string;
  usage: Usage;
}

async function runCodex(input: ProviderRunInput): Promise<ProviderRunResult> {
  const threadOptions = resolveThreadOptions(input);
  const codexHome = join(input.homeDir, '.codex');
  await mkdir(codexHome, { recursive: true, mode: 0o700 });
  await installCodexCredentials(input.credentials.value, codexHome);
  await writeFile(join(codexHome, 'config.toml'), buildConfigToml(input.env.OPENAI_BASE_URL), { mode: 0o600 });
  await restoreSessions(input.stateDir, codexHome);
  const previous = await readThreadState(input.stateDir);
  const prompt = await buildInput(input.prompt, join(input.homeDir, 'images'));
  await input.agentUser.handOver(input.homeDir);

  const redact = secretRedactor(input.credentials.secrets);
  // The private CODEX_HOME is inherited by everything the agent starts: it marks the run's processes.
  const stopProcesses = (): Promise<void> => stopMarkedProcesses('CODEX_HOME', codexHome, KILL_GRACE_MS);
  const abortController = new AbortController();
  let stopping: Promise<void> | undefined;
  const onAbort = (): void => {
    abortController.abort();
    stopping ??= stopProcesses();
  };
  if (input.signal.aborted) onAbort();
  else input.signal.addEventListener('abort', onAbort, { once: true });

  // Resume only a thread whose rollout came back with the session; a lost one (workspace
  // rebuilt from git) starts a new thread instead of failing the job.
  const resumeId =
    input.resumeAgentSessionId && (await hasRollout(input.stateDir, input.resumeAgentSessionId)) ? input.resumeAgentSessionId : undefined;
  let threadId = resumeId;
  let usage: Usage | undefined;
  let failure: string | undefined;
  let lastError: string | undefined;
  let sandboxFailure: string | undefined;
  let completed = false;
  try {
    const { Codex } = await import('@openai/codex-sdk');
    const codex = new Codex(await codexOptions(Codex, buildEnv(input, codexHome), input.agentUser));
    const thread = resumeId ? codex.resumeThread(resumeId, threadOptions) : codex.startThread(threadOptions);
    const { events } = await thread.runStreamed(prompt, { signal: abortController.signal });
    for await (const event of events as AsyncGenerator<ThreadEvent>) {
      input.onMessage(event);
      sandboxFailure ??= sandboxFailureOf(event);
      if (event.type === 'thread.started') threadId = event.thread_id;
      else if (event.type === 'turn.completed') {
        usage = event.usage;
        completed = true;
      } else if (event.type === 'turn.failed') failure = event.error.message;
      // `error` events include retry notices ("Reconnecting... 1/5"); only the turn's end decides.
      else if (event.type === 'error') lastError = event.message;
    }
  } catch (err) {
    // The SDK throws when the binary exits non-zero, which it also does after `turn.failed`.
    if (!input.signal.aborted && failure === undefined && lastError === undefined) {
      throw new Error(redact(`Codex failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 4000)));
    }
  } finally {
    input.signal.removeEventListener('abort', onAbort);
    // Also after a normal end: background commands the agent left behind must not outlive the job.
    await (stopping ?? stopProcesses());
    await input.agentUser.killAll();
    await saveSessions(codexHome, input.stateDir, input.credentials.secrets);
    if (threadId && usage) await writeThreadState(input.stateDir, { threadId, usage });
  }

  if (input.signal.aborted) return { agentSessionId: threadId, error: 'Codex run was aborted' };
  const result: ProviderRunResult = { agentSessionId: threadId };
  if (usage) result.usage = runUsage(usage, previous?.threadId === threadId ? previous?.usage : undefined);
  if (failure !== undefined) result.error = redact(failure);
  else if (sandboxFailure !== undefined) result.error = sandboxFailure;
  else if (!completed) result.error = redact(lastError ?? 'Codex ended without completing its turn');
  return result;
}

function resolveThreadOptions(input: ProviderRunInput): ThreadOptions {
  const { model, reasoningEffort, networkAccess } = input.options;
  const sandbox = resolveSandboxMode(input.options, input.workerDefaults?.sandboxMode);
  const options: ThreadOptions = {
    workingDirectory: input.cwd,
    // The worker decides what is a repository; a plain workspace folder is fine.
    skipGitRepoCheck: true,
    sandboxMode: sandbox,
    // Nobody is there to answer approval prompts.
    approvalPolicy: 'never',
  };
  if (model !== undefined) {
    if (typeof model !== 'string' || model.trim() === '') throw invalidField('providerOptions.model', 'model must be a non-empty string.');
    options.model = model;
  }
  if (reasoningEffort !== undefined) {
    if (typeof reasoningEffort !== 'string' || !(REASONING_EFFORTS as readonly string[]).includes(reasoningEffort)) {
      throw invalidField('providerOptions.reasoningEffort', `reasoningEffort must be one of ${REASONING_EFFORTS.join(', ')}.`);
    }
    options.modelReasoningEffort = reasoningEffort as ThreadOptions['modelReasoningEffort'];
  }
  if (networkAccess !== undefined) {
    if (typeof networkAccess !== 'boolean') throw invalidField('providerOptions.networkAccess', 'networkAccess must be a boolean.');
    options.networkAccessEnabled = networkAccess;
  }
  return options;
}

/**
 * The private config. Everything that phones home is off (plugin marketplace sync via
 * git to github.com, chatgpt.com plugin/app lookups, ab.chatgpt.com analytics, update
 * checks, feedback); the shell snapshot is off because it runs the host's login shell
 * rc files. `OPENAI_BASE_URL` is ignored by the binary, so a base URL becomes a model
 * provider that authenticates with auth.json (`requires_openai_auth`): the key stays
 * out of argv and out of the agent's environment.
 */
export function buildConfigToml(baseUrl: string | undefined): string {
  const lines = [
    'cli_auth_credentials_store = "file"',
    'check_for_update_on_startup = false',
    // With ChatGPT-token credentials the binary also calls the ChatGPT backend (account
    // check, user settings); behind a base URL those go there too, and a 404 is tolerated.
    ...(baseUrl ? ['model_provider = "worker"', `chatgpt_base_url = ${tomlString(baseUrl)}`] : []),
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[feedback]',
    'enabled = false',
    '',
    '[features]',
    'plugins = false',
    'remote_plugin = false',
    'apps = false',
    'tool_suggest = false',
    'skill_mcp_dependency_install = false',
    'shell_snapshot = false',
  ];
  if (baseUrl) {
    lines.push(
      '',
      '[model_providers.worker]',
      'name = "worker"',
      `base_url = ${tomlString(baseUrl)}`,
      'wire_api = "responses"',
      'requires_openai_auth = true',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The child's whole environment, built from scratch: the worker's own env may hold
 * secrets (its API token, GitHub token, default credentials) that the agent must not see.
 */
function buildEnv(input: ProviderRunInput, codexHome: string): Record<string, string> {
  const { OPENAI_API_KEY: _key, CODEX_API_KEY: _codexKey, ...passed } = input.env;
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
    ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
    ...passed,
    HOME: input.homeDir,
    CODEX_HOME: codexHome,
  };
}

/**
 * The SDK spawns its binary itself and lets us choose only its path. An isolated run
 * gets a launcher there that starts the binary as the agent user; the binary and the
 * helper folders (ripgrep) it must find on PATH come from the SDK's own lookup.
 */
async function codexOptions(CodexSdk: typeof Codex, env: Record<string, string>, agentUser: AgentUser): Promise<CodexOptions> {
  if (!agentUser.isolated) return { env };
  codexBinary ??= locateCodexBinary(CodexSdk);
  return {
    env: { ...env, PATH: [...codexBinary.pathDirs, env.PATH].join(':') },
    codexPathOverride: await agentUser.launcher(codexBinary.executablePath),
  };
}

/** Where the SDK finds its binary: looked up once, it does not move while the worker runs. */
let codexBinary: { executablePath: string; pathDirs: string[] } | undefined;

function locateCodexBinary(CodexSdk: typeof Codex): { executablePath: string; pathDirs: string[] } {
  const located = (new CodexSdk() as unknown as { exec?: { executablePath?: unknown; pathDirs?: unknown } }).exec;
  if (typeof located?.executablePath !== 'string' || !Array.isArray(located.pathDirs)) {
    throw new Error('this @openai/codex-sdk no longer tells where its binary is, so Codex cannot be started as the agent user');
  }
  return { executablePath: located.executablePath, pathDirs: located.pathDirs as string[] };
}

/** Text blocks joined; base64 images written into the private home and passed by path. */
async function buildInput(request: UserRequest, imageDir: string): Promise<Input> {
  if (typeof request === 'string') return request;
  const parts: UserInput[] = [];
  let n = 0;
  for (const block of request) {
    if (block.type === 'text') parts.push({ type: 'text', text: block.text });
    else {
      await mkdir(imageDir, { recursive: true, mode: 0o700 });
      const path = join(imageDir, `image-${++n}.${IMAGE_EXTENSIONS[block.source.media_type] ?? 'png'}`);
      await writeFile(path, Buffer.from(block.source.data, 'base64'), { mode: 0o600 });
      parts.push({ type: 'local_image', path });
    }
  }
  return parts;
}

/** Codex reports the thread's cumulative usage; a run's usage is the growth since the last turn. */
function runUsage(total: Usage, before: Usage | undefined): ProviderUsage {
  const diff = (key: keyof Usage): number => Math.max(0, (total[key] ?? 0) - (before?.[key] ?? 0));
  const delta: Usage = {
    input_tokens: diff('input_tokens'),
    cached_input_tokens: diff('cached_input_tokens'),
    cache_write_input_tokens: diff('cache_write_input_tokens'),
    output_tokens: diff('output_tokens'),
    reasoning_output_tokens: diff('reasoning_output_tokens'),
  };
  const { reasoningOutputTokens: _reasoning, ...usage } = codexUsage(delta) ?? {};
  return usage;
}

/**
 * Rollouts (`sessions/YYYY/MM/DD/rollout-*.jsonl`) are all `codex exec resume <id>` needs:
 * it finds the thread by id in a fresh CODEX_HOME and rebuilds its SQLite index itself.
 * auth.json, config and the state DBs (absolute paths) stay behind.
 */
async function restoreSessions(stateDir: string, codexHome: string): Promise<void> {
  const source = join(stateDir, STATE_SESSIONS);
  if (!(await isDirectory(source))) return;
  await cp(source, join(codexHome, 'sessions'), { recursive: true, filter: async (src) => (await isDirectory(src)) || src.endsWith('.jsonl') });
}

async function saveSessions(codexHome: string, stateDir: string, secrets: string[]): Promise<void> {
  const source = join(codexHome, 'sessions');
  if (!(await isDirectory(source))) return;
  await copyStateFiles(source, join(stateDir, STATE_SESSIONS), secrets, (name) => name.endsWith('.jsonl'));
}

async function readThreadState(stateDir: string): Promise<ThreadState | undefined> {
  try {
    const state = JSON.parse(await readFile(join(stateDir, STATE_THREAD), 'utf8')) as ThreadState;
    return typeof state.threadId === 'string' && typeof state.usage === 'object' ? state : undefined;
  } catch {
    return undefined;
  }
}

async function writeThreadState(stateDir: string, state: ThreadState): Promise<void> {
  await mkdir(join(stateDir, STATE_DIR), { recursive: true });
  await writeFile(join(stateDir, STATE_THREAD), JSON.stringify(state));
}

/** A TOML basic string (JSON escapes are a subset TOML accepts). */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

async function hasRollout(stateDir: string, threadId: string): Promise<boolean> {
  const files = await readdir(join(stateDir, STATE_SESSIONS), { recursive: true }).catch(() => [] as string[]);
  return files.some((file) => file.endsWith(`${threadId}.jsonl`));
}

