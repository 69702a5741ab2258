import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { writeFileAtomic } from '../storage/atomic-file.js';

export type CliProvider = 'claude' | 'codex';

/** Where a credential was found, for messages: an env variable name or a file path. */
export interface FoundCredentials {
  source: string;
  /** What `codingAssistantAuthentication` carries. */
  value: string | Record<string, unknown>;
}

/** The parts of the environment discovery reads; the CLI's entry passes `process.env`. */
export interface CredentialEnv {
  HOME?: string;
  ANTHROPIC_API_KEY?: string;
  CLAUDE_CODE_OAUTH_TOKEN?: string;
  CLAUDE_CONFIG_DIR?: string;
  OPENAI_API_KEY?: string;
  CODEX_HOME?: string;
  GITHUB_TOKEN?: string;
  GH_TOKEN?: string;
}

/** The places searched, in order, for the message shown when none holds a credential. */
export function credentialSources(provider: CliProvider, env: CredentialEnv): string[] {
  return provider === 'claude'
    ? ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', claudeCredentialsFile(env) ?? '~/.claude/.credentials.json']
    : ['OPENAI_API_KEY', codexAuthFile(env) ?? '~/.codex/auth.json'];
}

/**
 * Finds the agent's credentials where its own CLI keeps them: the API key
 * variable first, then (Claude) a long-lived OAuth token from
 * `claude setup-token`, then the login file the agent's CLI writes.
 * Returns undefined when none is there; a file that exists but does not parse
 * is an error, so a broken login is not silently skipped.
 */
export async function findCredentials(provider: CliProvider, env: CredentialEnv): Promise<FoundCredentials | undefined> {
  if (provider === 'claude') {
    if (env.ANTHROPIC_API_KEY) return { source: 'ANTHROPIC_API_KEY', value: env.ANTHROPIC_API_KEY };
    if (env.CLAUDE_CODE_OAUTH_TOKEN) {
      return { source: 'CLAUDE_CODE_OAUTH_TOKEN', value: { claudeAiOauth: { accessToken: env.CLAUDE_CODE_OAUTH_TOKEN } } };
    }
    const file = claudeCredentialsFile(env);
    const json = file === undefined ? undefined : await readJsonFile(file);
    const oauth = json?.claudeAiOauth;
    if (isRecord(oauth) && typeof oauth.accessToken === 'string') return { source: file!, value: { claudeAiOauth: oauth } };
    return undefined;
  }
  if (env.OPENAI_API_KEY) return { source: 'OPENAI_API_KEY', value: env.OPENAI_API_KEY };
  const file = codexAuthFile(env);
  const json = file === undefined ? undefined : await readJsonFile(file);
  if (json !== undefined && (typeof json.OPENAI_API_KEY === 'string' || isRecord(json.tokens))) return { source: file!, value: json };
  return undefined;
}

/** The GitHub token for `--repo`: `GITHUB_TOKEN`, else `GH_TOKEN` (the `gh` CLI's). */
export function findGithubToken(env: CredentialEnv): string | undefined {
  return env.GITHUB_TOKEN || env.GH_TOKEN || undefined;
}

function claudeCredentialsFile(env: CredentialEnv): string | undefined {
  if (env.CLAUDE_CONFIG_DIR) return join(env.CLAUDE_CONFIG_DIR, '.credentials.json');
  return env.HOME ? join(env.HOME, '.claude', '.credentials.json') : undefined;
}

function codexAuthFile(env: CredentialEnv): string | undefined {
  if (env.CODEX_HOME) return join(env.CODEX_HOME, 'auth.json');
  return env.HOME ? join(env.HOME, '.codex', 'auth.json') : undefined;
}

async function readJsonFile(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON`);
  }
  return isRecord(value) ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Writes a login the worker refreshed back into the file it came from (Claude Code's
 * `.credentials.json`): the refresh token rotated, so the old one in the file no longer
 * works. Keeps every other field; replaces the file atomically, readable by its owner only.
 * False when the credentials did not come from a file (an env variable cannot be updated).
 */
export async function saveRefreshedClaudeLogin(
  source: string,
  login: { accessToken: string; refreshToken?: string; expiresAt?: number },
): Promise<boolean> {
  if (!isAbsolute(source)) return false;
  const json = (await readJsonFile(source)) ?? {};
  const previous = isRecord(json.claudeAiOauth) ? json.claudeAiOauth : {};
  const updated = { ...json, claudeAiOauth: { ...previous, ...definedFields(login) } };
  await writeFileAtomic(source, `${JSON.stringify(updated, null, 2)}\n`);
  return true;
}

function definedFields(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));
}
