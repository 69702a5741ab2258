import type { CodexCredentials } from './codex-credentials.js';
import type { GenerateTextInput } from './types.js';

/** Small and fast: titles and commit messages do not need the agent's model. */
const TEXT_MODEL = 'gpt-5-mini';
const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/**
 * One call to the Responses API at OPENAI_BASE_URL with the request's API key,
 * read as a stream (what every Responses server speaks) until
 * `response.completed`. ChatGPT-token credentials cannot call the public API:
 * they throw, and the caller falls back to its deterministic text.
 */
export async function generateCodexText(input: GenerateTextInput): Promise<string> {
  const credentials = input.credentials.value as CodexCredentials;
  if (credentials.kind !== 'api-key') throw new Error('ChatGPT sign-in credentials cannot call the Responses API');
  const baseUrl = (input.env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  const response = await fetch(`${baseUrl}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${credentials.apiKey}` },
    signal: input.signal,
    body: JSON.stringify({ model: TEXT_MODEL, input: input.prompt, stream: true, store: false }),
  });
  if (!response.ok || !response.body) throw new Error(`Responses API answered ${response.status}`);
  const text = outputText(await completedResponse(response.body));
  if (text.trim() === '') throw new Error('Responses API returned no text');
  return text;
}

interface ResponseObject {
  output?: Array<{ type: string; content?: Array<{ type: string; text?: string }> }>;
}

/** The `response` of the stream's `response.completed` event. */
async function completedResponse(body: ReadableStream<Uint8Array>): Promise<ResponseObject> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .join('');
      if (!data || data === '[DONE]') continue;
      const event = JSON.parse(data) as { type?: string; response?: ResponseObject & { error?: { message?: string } } };
      if (event.type === 'response.completed' && event.response) return event.response;
      if (event.type === 'response.failed') throw new Error(event.response?.error?.message ?? 'response failed');
    }
  }
  throw new Error('the Responses stream ended without response.completed');
}

function outputText(response: ResponseObject): string {
  return (response.output ?? [])
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content ?? [])
    .filter((part) => part.type === 'output_text')
    .map((part) => part.text ?? '')
    .join('');
}
