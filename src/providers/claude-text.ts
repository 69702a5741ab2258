import type { ClaudeCredentials } from './claude-credentials.js';
import type { GenerateTextInput } from './types.js';

/** Small and fast: titles and commit messages do not need the agent's model. */
const TEXT_MODEL = 'claude-haiku-4-5';
const DEFAULT_BASE_URL = 'https://api.anthropic.com';

/**
 * One non-streaming call to the Messages API at ANTHROPIC_BASE_URL with the
 * request's own credentials (an API key as `x-api-key`, an OAuth token as a
 * bearer token with the OAuth beta header, as Claude Code itself sends them).
 */
export async function generateClaudeText(input: GenerateTextInput): Promise<string> {
  const credentials = input.credentials.value as ClaudeCredentials;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
  };
  if (credentials.kind === 'apiKey') headers['x-api-key'] = credentials.apiKey;
  else {
    headers.authorization = `Bearer ${credentials.oauth.accessToken}`;
    headers['anthropic-beta'] = 'oauth-2025-04-20';
  }
  const baseUrl = (input.env.ANTHROPIC_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  const response = await fetch(`${baseUrl}/v1/messages`, {
    method: 'POST',
    headers,
    signal: input.signal,
    body: JSON.stringify({
      model: TEXT_MODEL,
      max_tokens: 300,
      messages: [{ role: 'user', content: input.prompt }],
    }),
  });
  if (!response.ok) throw new Error(`Messages API answered ${response.status}`);
  const body = (await response.json()) as { content?: Array<{ type: string; text?: string }> };
  const text = (body.content ?? [])
    .filter((block) => block.type === 'text')
    .map((block) => block.text ?? '')
    .join('');
  if (text.trim() === '') throw new Error('Messages API returned no text');
  return text;
}
