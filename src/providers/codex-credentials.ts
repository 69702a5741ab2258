/**
 * Codex credentials: an OpenAI API key, or a Codex `auth.json` (API-key form or
 * ChatGPT-token form). They reach the binary only as `$CODEX_HOME/auth.json` in the
 * job's private home — never argv, never the agent's environment.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidField } from '../errors/worker-error.js';
import type { ParsedCredentials, ProxyPlan } from './types.js';

export type CodexCredentials =
  | { kind: 'api-key'; apiKey: string }
  | { kind: 'chatgpt'; authJson: Record<string, unknown> & { tokens: ChatGptTokens } };

interface ChatGptTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
  account_id?: string;
}

const FIELD = 'codingAssistantAuthentication';
const FORM_HELP =
  'Codex credentials must be an OpenAI API key (string or {"apiKey": "..."}) or a Codex auth.json object ' +
  '({"OPENAI_API_KEY": "..."} or {"tokens": {"id_token", "access_token", "refresh_token", "account_id"}}).';

/** Validates the request's Codex credentials; throws a 400 `WorkerError` on a wrong form. */
export function parseCodexCredentials(raw: unknown): ParsedCredentials {
  let value = raw;
  if (typeof value === 'string' && value.trim().startsWith('{')) {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      throw invalidField(FIELD, `${FORM_HELP} The value looks like JSON but does not parse.`);
    }
  }
  const credentials = toCredentials(value);
  const secrets =
    credentials.kind === 'api-key'
      ? [credentials.apiKey]
      : [credentials.authJson.tokens.id_token, credentials.authJson.tokens.access_token, credentials.authJson.tokens.refresh_token];
  return { secrets, value: credentials };
}

function toCredentials(value: unknown): CodexCredentials {
  if (typeof value === 'string') return { kind: 'api-key', apiKey: checkApiKey(value) };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidField(FIELD, FORM_HELP);
  const obj = value as Record<string, unknown>;
  if (obj.tokens !== undefined && obj.tokens !== null) {
    const tokens = obj.tokens as Record<string, unknown>;
    if (typeof tokens !== 'object' || Array.isArray(tokens)) throw invalidField(FIELD, FORM_HELP);
    for (const key of ['id_token', 'access_token', 'refresh_token'] as const) {
      if (typeof tokens[key] !== 'string' || tokens[key] === '') throw invalidField(FIELD, `${FORM_HELP} tokens.${key} is missing.`);
    }
    // The binary decodes the id token (plan, account); anything but a JWT makes it fail later.
    if ((tokens.id_token as string).split('.').length !== 3) throw invalidField(FIELD, `${FORM_HELP} tokens.id_token is not a JWT.`);
    if (tokens.account_id !== undefined && typeof tokens.account_id !== 'string') throw invalidField(FIELD, `${FORM_HELP} tokens.account_id must be a string.`);
    return { kind: 'chatgpt', authJson: { ...obj, tokens: tokens as unknown as ChatGptTokens } };
  }
  if (typeof obj.apiKey === 'string') return { kind: 'api-key', apiKey: checkApiKey(obj.apiKey) };
  if (typeof obj.OPENAI_API_KEY === 'string') return { kind: 'api-key', apiKey: checkApiKey(obj.OPENAI_API_KEY) };
  throw invalidField(FIELD, FORM_HELP);
}

function checkApiKey(key: string): string {
  const trimmed = key.trim();
  if (trimmed.length < 8 || trimmed.length > 4096 || /\s/.test(trimmed)) {
    throw invalidField(FIELD, `${FORM_HELP} The API key is empty or malformed.`);
  }
  return trimmed;
}

/** Writes `auth.json` (mode 0600) into the private `CODEX_HOME`. */
export async function installCodexCredentials(value: unknown, codexHome: string): Promise<void> {
  const credentials = value as CodexCredentials;
  const authJson = credentials.kind === 'api-key' ? { OPENAI_API_KEY: credentials.apiKey } : credentials.authJson;
  await writeFile(join(codexHome, 'auth.json'), JSON.stringify(authJson), { mode: 0o600 });
}

/**
 * An API key goes through the model proxy: the agent's auth.json holds the job's token. A
 * ChatGPT login cannot: Codex talks to ChatGPT's own backend with it and refreshes it itself,
 * so the agent keeps it (README "Model proxy").
 */
export function codexProxyPlan(credentials: ParsedCredentials): ProxyPlan | undefined {
  const value = credentials.value as CodexCredentials;
  if (value.kind !== 'api-key') return undefined;
  return {
    upstream: { api: 'openai', kind: 'apiKey', apiKey: value.apiKey },
    agentCredentials: (token) => ({ secrets: [token], value: { kind: 'api-key', apiKey: token } satisfies CodexCredentials }),
    baseUrlVariable: 'OPENAI_BASE_URL',
  };
}
