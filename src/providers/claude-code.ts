/**
 * Claude Code through `@anthropic-ai/claude-agent-sdk`, which drives the native `claude`
 * binary over stream-json. Everything Claude-specific (env, credential files, transcript
 * layout, process handling) lives here and in `claude-credentials.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, lstat, mkdir, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Options, SDKMessage, SDKResultMessage, SDKUserMessage, SpawnedProcess, SpawnOptions } from '@anthropic-ai/claude-agent-sdk';
import { invalidField } from '../errors/worker-error.js';
import type { AgentUser } from '../isolation/types.js';
import { claudeProxyPlan, CREDENTIALS_FILE, installClaudeCredentials, parseClaudeCredentials } from './claude-credentials.js';
import { findMarkedProcesses, stopMarkedProcesses } from './process-sweep.js';
import { normalizeClaudeMessage } from './claude-normalize.js';
import { generateClaudeText } from './claude-text.js';
import { copyStateFiles, isDirectory, secretRedactor } from './state-files.js';
import type { Provider, ProviderRunInput, ProviderRunResult, ProviderUsage, UserRequest } from './types.js';

const PERMISSION_MODES = ['default', 'acceptEdits', 'bypassPermissions', 'plan'] as const;
type PermissionMode = (typeof PERMISSION_MODES)[number];

/** How long the CLI gets to exit on its own after its last result, and after SIGTERM. */
const EXIT_GRACE_MS = 3_000;
const KILL_GRACE_MS = 2_000;
const STDERR_TAIL_CHARS = 4_000;

/** Where the provider keeps its transcripts inside the session's state folder. */
const STATE_TRANSCRIPTS = join('claude-code', 'transcripts');

/**
 * Env that keeps the binary quiet and self-contained: no auto-update, telemetry, error
 * reporting, surveys or other non-essential calls to Anthropic's services.
 */
export const QUIET_ENV: Readonly<Record<string, string>> = {
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  DISABLE_AUTOUPDATER: '1',
  DISABLE_TELEMETRY: '1',
  DISABLE_ERROR_REPORTING: '1',
  DISABLE_BUG_COMMAND: '1',
  CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: '1',
};

export const claudeCodeProvider: Provider = {
  name: 'claude-code',
  aliases: ['claudeagentsdk', 'claude-code', 'claude'],
  capabilities: { images: true, resume: true },
  parseCredentials: parseClaudeCredentials,
  proxyPlan: claudeProxyPlan,
  run: runClaudeCode,
  generateText: generateClaudeText,
  normalize: normalizeClaudeMessage,
};

async function runClaudeCode(input: ProviderRunInput): Promise<ProviderRunResult> {
  const permissionMode = resolvePermissionMode(input.options);
  const configDir = join(input.homeDir, '.claude');
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const credentialEnv = await installClaudeCredentials(input.credentials.value, configDir);

  // The binary keys transcripts by its real cwd; restoring under that name lets `resume`
  // find them even when this worker's workspace path differs from the previous one.
  const cwd = await realpath(input.cwd);
  await restoreTranscripts(input.stateDir, join(configDir, 'projects', projectDirName(cwd)));

  await input.agentUser.handOver(input.homeDir);

  const redact = secretRedactor(input.credentials.secrets);
  const child = new ChildGroup(configDir, input.agentUser);
  const abortController = new AbortController();
  const onAbort = (): void => {
    abortController.abort();
    child.terminate();
  };
  if (input.signal.aborted) onAbort();
  else input.signal.addEventListener('abort', onAbort, { once: true });

  const prompt = new PromptStream(input.prompt);
  let sessionId: string | undefined;
  let result: SDKResultMessage | undefined;
  try {
    const { query } = await import('@anthropic-ai/claude-agent-sdk');
    const options: Options = {
      cwd,
      env: buildEnv(input, configDir, credentialEnv),
      abortController,
      permissionMode,
      allowDangerouslySkipPermissions: permissionMode === 'bypassPermissions',
      // Project settings carry the repository's CLAUDE.md; the private home has no user settings.
      settingSources: ['project'],
      spawnClaudeCodeProcess: (spawnOptions) => child.spawn(spawnOptions),
    };
    if (typeof input.options.model === 'string' && input.options.model !== '') options.model = input.options.model;
    if (typeof input.options.maxTurns === 'number' && input.options.maxTurns > 0) options.maxTurns = input.options.maxTurns;
    // Resume only a conversation whose transcript came back with the session; a lost one
    // (workspace rebuilt from git) starts a new conversation instead of failing the job.
    const resume = input.resumeAgentSessionId;
    if (resume && (await isFile(join(input.stateDir, STATE_TRANSCRIPTS, `${resume}.jsonl`)))) options.resume = resume;

    for await (const message of query({ prompt: prompt.messages(), options })) {
      input.onMessage(message);
      sessionId ??= sessionIdOf(message);
      if (message.type === 'result') {
        result = message;
        break;
      }
    }
  } catch (err) {
    if (!input.signal.aborted) {
      const detail = err instanceof Error ? err.message : String(err);
      const stderr = child.stderrTail.trim();
      throw new Error(redact(`Claude Code failed: ${detail}${stderr ? ` (stderr: ${stderr.slice(-1000)})` : ''}`));
    }
  } finally {
    input.signal.removeEventListener('abort', onAbort);
    prompt.end();
    await child.waitOrKill(input.signal.aborted ? 0 : EXIT_GRACE_MS);
    await input.agentUser.killAll();
    await saveTranscripts(join(configDir, 'projects'), input.stateDir, input.credentials.secrets);
  }

  if (input.signal.aborted) return { agentSessionId: sessionId, error: 'Claude Code run was aborted' };
  if (!result) {
    const stderr = child.stderrTail.trim();
    throw new Error(redact(`Claude Code ended without a result${stderr ? ` (stderr: ${stderr.slice(-1000)})` : ''}`));
  }
  const error = resultError(result);
  return {
    agentSessionId: result.session_id ?? sessionId,
    usage: usageOf(result),
    ...(error !== undefined ? { error: redact(error) } : {}),
  };
}

function resolvePermissionMode(options: ProviderRunInput['options']): PermissionMode {
  if (options.skipPermissions === true) return 'bypassPermissions';
  const mode = options.permissionMode;
  if (mode === undefined) return 'bypassPermissions';
  if (typeof mode === 'string' && (PERMISSION_MODES as readonly string[]).includes(mode)) return mode as PermissionMode;
  throw invalidField('providerOptions.permissionMode', `permissionMode must be one of ${PERMISSION_MODES.join(', ')}.`);
}

/**
 * The child's whole environment. Built from scratch: the worker's own env may hold other
 * secrets (its API token, GitHub token, default credentials) that the agent must not see.
 */
function buildEnv(input: ProviderRunInput, configDir: string, credentialEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
    ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
    ...input.env,
    HOME: input.homeDir,
    CLAUDE_CONFIG_DIR: configDir,
    ...QUIET_ENV,
    ...credentialEnv,
  };
  // `bypassPermissions` exits with "cannot be used with root/sudo privileges" unless the
  // binary is told it runs in a deliberate sandbox (checked as `IS_SANDBOX === "1"`). Only
  // an unisolated worker running as root (AGENT_ISOLATION=off) starts the agent as root.
  if (input.agentUser.uid === 0) env.IS_SANDBOX = '1';
  const { maxRetries, apiTimeoutMs } = input.options;
  if (typeof maxRetries === 'number' && maxRetries >= 0) env.CLAUDE_CODE_MAX_RETRIES = String(Math.floor(maxRetries));
  if (typeof apiTimeoutMs === 'number' && apiTimeoutMs > 0) env.API_TIMEOUT_MS = String(Math.floor(apiTimeoutMs));
  return env;
}

/**
 * The user's request as the SDK's streaming input, which is the only mode that carries image
 * blocks. The stream stays open until the run ends: closing stdin early can end the CLI
 * before it answers.
 */
class PromptStream {
  private endResolve: (() => void) | undefined;
  private readonly ended = new Promise<void>((resolve) => (this.endResolve = resolve));

  constructor(private readonly request: UserRequest) {}

  async *messages(): AsyncGenerator<SDKUserMessage> {
    const content = typeof this.request === 'string' ? this.request : this.request.map((block) => ({ ...block }));
    yield { type: 'user', message: { role: 'user', content }, parent_tool_use_id: null } as SDKUserMessage;
    await this.ended;
  }

  end(): void {
    this.endResolve?.();
  }
}

/**
 * Spawns the CLI in its own process group and stops everything it started: SIGTERM, then
 * SIGKILL after a grace period. The CLI puts its shells in process groups of their own, so
 * besides the CLI's group this also signals every process that carries this job's
 * CLAUDE_CONFIG_DIR in its environment, and their descendants (`process-sweep.ts`).
 */
class ChildGroup {
  stderrTail = '';
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly configDir: string,
    private readonly agentUser: AgentUser,
  ) {}

  spawn(options: SpawnOptions): SpawnedProcess {
    const { command, args } = this.agentUser.command(options.command, options.args);
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    // The SDK aborts this signal after its own graceful stdin-close window.
    options.signal.addEventListener('abort', () => this.terminate(), { once: true });
    return child;
  }

  /** SIGTERM everything now, SIGKILL it after a grace period. Safe to call twice. */
  terminate(): void {
    if (!this.child?.pid || this.killTimer) return;
    void this.signalAll('SIGTERM');
    this.killTimer = setTimeout(() => void this.signalAll('SIGKILL'), KILL_GRACE_MS);
    this.killTimer.unref();
  }

  /** Waits up to `graceMs` for the CLI to exit, then terminates it; finally kills any leftovers. */
  async waitOrKill(graceMs: number): Promise<void> {
    if (!this.child) return;
    const exitedInTime = await Promise.race([this.exited.then(() => true), delay(graceMs).then(() => false)]);
    if (!exitedInTime) {
      this.terminate();
      await Promise.race([this.exited, delay(KILL_GRACE_MS + 500)]);
    }
    if (this.killTimer) clearTimeout(this.killTimer);
    // Whatever the agent left running (background shells, servers) ends with the job.
    const pid = this.child.pid;
    if (pid) trySignal(-pid, 'SIGKILL');
    await stopMarkedProcesses('CLAUDE_CONFIG_DIR', this.configDir, 0);
  }

  private async signalAll(signal: NodeJS.Signals): Promise<void> {
    const pid = this.child?.pid;
    if (pid) trySignal(-pid, signal);
    for (const other of await findMarkedProcesses('CLAUDE_CONFIG_DIR', this.configDir)) trySignal(other, signal);
  }
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH / EPERM: already gone, or not ours.
  }
}

/** Claude Code's folder name for a project path (its `projects/<name>` transcript folder). */
export function projectDirName(cwd: string): string {
  const name = cwd.replace(/[^a-zA-Z0-9]/g, '-');
  if (name.length <= 200) return name;
  // Long paths are cut and suffixed with the binary's 32-bit string hash in base 36.
  let hash = 0;
  for (let i = 0; i < cwd.length; i++) hash = ((hash << 5) - hash + cwd.charCodeAt(i)) | 0;
  return `${name.slice(0, 200)}-${Math.abs(hash).toString(36)}`;
}

async function isFile(path: string): Promise<boolean> {
  return lstat(path).then(
    (stats) => stats.isFile(),
    () => false,
  );
}

async function restoreTranscripts(stateDir: string, projectDir: string): Promise<void> {
  const source = join(stateDir, STATE_TRANSCRIPTS);
  if (!(await isDirectory(source))) return;
  await mkdir(projectDir, { recursive: true, mode: 0o700 });
  await cp(source, projectDir, { recursive: true, filter: (src) => !src.endsWith(CREDENTIALS_FILE) });
}

/**
 * Copies every project's transcripts back into the state folder, flattened (the cwd-derived
 * folder name is not portable), with symlinks skipped and the run's secrets redacted.
 */
async function saveTranscripts(projectsDir: string, stateDir: string, secrets: string[]): Promise<void> {
  if (!(await isDirectory(projectsDir))) return;
  const target = join(stateDir, STATE_TRANSCRIPTS);
  for (const project of await readdir(projectsDir)) {
    await copyStateFiles(join(projectsDir, project), target, secrets, (name) => name !== CREDENTIALS_FILE);
  }
}

function sessionIdOf(message: SDKMessage): string | undefined {
  const id = (message as { session_id?: unknown }).session_id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function resultError(result: SDKResultMessage): string | undefined {
  if (result.subtype === 'success') return result.is_error ? result.result || 'Claude Code reported an error' : undefined;
  const detail = result.errors?.filter(Boolean).join('; ');
  return detail ? `${result.subtype}: ${detail}` : result.subtype;
}

function usageOf(result: SDKResultMessage): ProviderUsage {
  const models = Object.values(result.modelUsage ?? {});
  if (models.length > 0) {
    return {
      inputTokens: sum(models.map((m) => m.inputTokens)),
      outputTokens: sum(models.map((m) => m.outputTokens)),
      cacheReadInputTokens: sum(models.map((m) => m.cacheReadInputTokens)),
      cacheCreationInputTokens: sum(models.map((m) => m.cacheCreationInputTokens)),
      costUsd: result.total_cost_usd,
    };
  }
  return {
    inputTokens: result.usage?.input_tokens,
    outputTokens: result.usage?.output_tokens,
    cacheReadInputTokens: result.usage?.cache_read_input_tokens ?? undefined,
    cacheCreationInputTokens: result.usage?.cache_creation_input_tokens ?? undefined,
    costUsd: result.total_cost_usd,
  };
}

function sum(values: Array<number | undefined>): number {
  return values.reduce<number>((acc, v) => acc + (typeof v === 'number' ? v : 0), 0);
}


function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
