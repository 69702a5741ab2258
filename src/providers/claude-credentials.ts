/**
 * Claude Code credentials: validation of the request's `codingAssistantAuthentication`
 * and the files / environment the `claude` binary reads them from.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidField } from '../errors/worker-error.js';
import type { ParsedCredentials, ProxyPlan } from './types.js';

const FIELD = 'codingAssistantAuthentication';

/**
 * Scopes given to an OAuth login that names none. The `claude` binary reads a
 * `.credentials.json` login without `user:inference` as "Not logged in" (checked
 * against Claude Code 2.1), so the README's example, which has no `scopes`, would
 * fail. `user:inference` is all it needs; claiming more than the token may hold
 * (e.g. `user:profile`) would only invite calls the token cannot make.
 */
export const DEFAULT_OAUTH_SCOPES: readonly string[] = ['user:inference'];

/** The `claudeAiOauth` object of Claude Code's `.credentials.json`. */
export interface ClaudeOauth {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: number;
  scopes?: string[];
  [key: string]: unknown;
}

export type ClaudeCredentials = { kind: 'oauth'; oauth: ClaudeOauth } | { kind: 'apiKey'; apiKey: string };

/** Validates every accepted form; throws a VALIDATION_ERROR naming the field otherwise. */
export function parseClaudeCredentials(raw: unknown): ParsedCredentials {
  const value = toCredentials(raw, true);
  const secrets =
    value.kind === 'apiKey'
      ? [value.apiKey]
      : [value.oauth.accessToken, value.oauth.refreshToken].filter((s): s is string => typeof s === 'string' && s.length > 0);
  return { secrets, value };
}

function toCredentials(raw: unknown, allowJsonString: boolean): ClaudeCredentials {
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text === '') throw invalidField(FIELD, 'Claude credentials are empty: pass an API key or a {"claudeAiOauth": {...}} object.');
    if (allowJsonString) {
      // Only non-JSON strings are API keys; a JSON text is judged by what it parses to.
      const parsed = parseJson(text);
      if (parsed.ok) return toCredentials(parsed.value, false);
      if (/^[{[]/.test(text)) {
        throw invalidField(FIELD, 'Claude credentials look like JSON but do not parse; send valid JSON or a plain API key.');
      }
    }
    if (/\s/.test(text)) throw invalidField(FIELD, 'A Claude API key must not contain whitespace.');
    return { kind: 'apiKey', apiKey: text };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidField(FIELD, 'Claude credentials must be an API key string or a {"claudeAiOauth": {...}} object.');
  }
  const obj = raw as Record<string, unknown>;
  if ('claudeAiOauth' in obj) return { kind: 'oauth', oauth: toOauth(obj.claudeAiOauth, 'claudeAiOauth.') };
  // The original worker took the OAuth object without its wrapper and wrapped it itself;
  // its production clients still send it that way (issue #9).
  if ('accessToken' in obj) return { kind: 'oauth', oauth: toOauth(obj, '') };
  if ('apiKey' in obj) {
    if (typeof obj.apiKey !== 'string' || obj.apiKey.trim() === '' || /\s/.test(obj.apiKey.trim())) {
      throw invalidField(FIELD, 'Claude credentials: "apiKey" must be a non-empty string without whitespace.');
    }
    return { kind: 'apiKey', apiKey: obj.apiKey.trim() };
  }
  throw invalidField(FIELD, 'Claude credentials object must have a "claudeAiOauth", an "accessToken" or an "apiKey" property.');
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Validates the OAuth object; `path` prefixes its keys in messages (`claudeAiOauth.`, or nothing for the flat form). */
function toOauth(raw: unknown, path: string): ClaudeOauth {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidField(FIELD, 'Claude credentials: "claudeAiOauth" must be an object.');
  }
  const o = raw as Record<string, unknown>;
  if (typeof o.accessToken !== 'string' || o.accessToken.trim() === '') {
    throw invalidField(FIELD, `Claude credentials: "${path}accessToken" must be a non-empty string.`);
  }
  if (o.refreshToken !== undefined && typeof o.refreshToken !== 'string') {
    throw invalidField(FIELD, `Claude credentials: "${path}refreshToken" must be a string.`);
  }
  if (o.expiresAt !== undefined && (typeof o.expiresAt !== 'number' || !Number.isFinite(o.expiresAt))) {
    throw invalidField(FIELD, `Claude credentials: "${path}expiresAt" must be a number (epoch milliseconds).`);
  }
  if (o.scopes !== undefined && !(Array.isArray(o.scopes) && o.scopes.every((s) => typeof s === 'string'))) {
    throw invalidField(FIELD, `Claude credentials: "${path}scopes" must be an array of strings.`);
  }
  return { ...o, accessToken: o.accessToken, scopes: o.scopes ?? [...DEFAULT_OAUTH_SCOPES] } as ClaudeOauth;
}

/**
 * Makes the credentials visible to the `claude` binary run with CLAUDE_CONFIG_DIR=configDir:
 * OAuth as `<configDir>/.credentials.json` (mode 0600, the binary's own format), an API key
 * only through the returned environment (never argv, never a file).
 */
export async function installClaudeCredentials(value: unknown, configDir: string): Promise<Record<string, string>> {
  const creds = value as ClaudeCredentials;
  if (creds.kind === 'apiKey') return { ANTHROPIC_API_KEY: creds.apiKey };
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  await writeFile(join(configDir, CREDENTIALS_FILE), JSON.stringify({ claudeAiOauth: creds.oauth }), { mode: 0o600 });
  return {};
}

/** The file name Claude Code keeps its OAuth login in; never copied out of the private home. */
export const CREDENTIALS_FILE = '.credentials.json';

/**
 * Every Claude login goes through the model proxy: the agent gets the job's token as an API
 * key (the proxy turns it into the user's key, or the OAuth bearer with its beta header), so
 * neither its environment nor its home holds the user's credential.
 */
export function claudeProxyPlan(credentials: ParsedCredentials): ProxyPlan {
  const value = credentials.value as ClaudeCredentials;
  return {
    upstream:
      value.kind === 'apiKey'
        ? { api: 'anthropic', kind: 'apiKey', apiKey: value.apiKey }
        : { api: 'anthropic', kind: 'oauth', oauth: value.oauth },
    agentCredentials: (token) => ({ secrets: [token], value: { kind: 'apiKey', apiKey: token } satisfies ClaudeCredentials }),
    baseUrlVariable: 'ANTHROPIC_BASE_URL',
  };
}
