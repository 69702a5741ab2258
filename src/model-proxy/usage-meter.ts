/**
 * Reads a model call's token usage from the upstream's response as it passes through the
 * proxy. The meter gets each chunk after it was written to the agent, and parses only what
 * carries usage.
 *
 * One meaning of `inputTokens` for every API, the one `completed.usage` has always had
 * (issue #12): the uncached input only, with cache reads (and writes) counted apart.
 *  - Anthropic reports it so: `input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`.
 *  - OpenAI's `input_tokens` include the cached ones; `input_tokens_details.cached_tokens` is
 *    the cached part (→ `cacheReadInputTokens`, subtracted from `inputTokens`, as the Codex
 *    provider's own `codexUsage` does). OpenAI reports no cache writes.
 */
import { SseScanner } from './sse-scanner.js';
import type { CallUsage, ModelApi } from './types.js';

/** A non-streaming body bigger than this is forwarded but not metered. */
const MAX_JSON_BYTES = 32 * 1024 * 1024;

export interface UsageMeter {
  push(chunk: Buffer): void;
  /** The call's usage, or undefined if the response reported none (or was not complete enough to read). */
  finish(): CallUsage | undefined;
}

/** A meter for a successful response of `contentType`; undefined when the body cannot carry usage. */
export function createUsageMeter(api: ModelApi, contentType: string | undefined): UsageMeter | undefined {
  const type = (contentType ?? '').toLowerCase();
  const reader = api === 'anthropic' ? new AnthropicUsage() : new OpenAIUsage();
  if (type.startsWith('text/event-stream')) return new StreamMeter(reader);
  if (type.startsWith('application/json')) return new JsonMeter(reader);
  return undefined;
}

/** What one API's events and bodies say about usage. */
interface UsageReader {
  wantsEvent(eventName: string | undefined): boolean;
  readEvent(event: Record<string, unknown>): void;
  readBody(body: Record<string, unknown>): void;
  result(): CallUsage | undefined;
}

class StreamMeter implements UsageMeter {
  private readonly scanner: SseScanner;

  constructor(private readonly reader: UsageReader) {
    this.scanner = new SseScanner(
      (name) => reader.wantsEvent(name),
      (data) => {
        const event = parseObject(data);
        if (event) reader.readEvent(event);
      },
    );
  }

  push(chunk: Buffer): void {
    this.scanner.push(chunk);
  }

  finish(): CallUsage | undefined {
    return this.reader.result();
  }
}

class JsonMeter implements UsageMeter {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly reader: UsageReader) {}

  push(chunk: Buffer): void {
    if (this.bytes + chunk.length > MAX_JSON_BYTES) {
      this.chunks = [];
      this.bytes = Infinity;
      return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  finish(): CallUsage | undefined {
    if (this.bytes === Infinity) return undefined;
    const body = parseObject(Buffer.concat(this.chunks).toString('utf8'));
    if (body) this.reader.readBody(body);
    return this.reader.result();
  }
}

/**
 * Messages API. Streaming: `message_start` has the model and the input side (and a first
 * `output_tokens`); `message_delta` has the cumulative `output_tokens`, and input or cache
 * counts too when the server revises them, which then replace the earlier ones. A stream cut
 * after `message_start` still counts: the input was billed.
 */
class AnthropicUsage implements UsageReader {
  private seen = false;
  private model: string | undefined;
  private readonly counts = { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 };

  wantsEvent(name: string | undefined): boolean {
    return name === undefined || name === 'message_start' || name === 'message_delta';
  }

  readEvent(event: Record<string, unknown>): void {
    if (event.type === 'message_start' && isObject(event.message)) this.readMessage(event.message);
    else if (event.type === 'message_delta' && isObject(event.usage)) this.readUsage(event.usage);
  }

  readBody(body: Record<string, unknown>): void {
    this.readMessage(body);
  }

  result(): CallUsage | undefined {
    if (!this.seen) return undefined;
    return { api: 'anthropic', ...(this.model !== undefined ? { model: this.model } : {}), ...this.counts };
  }

  private readMessage(message: Record<string, unknown>): void {
    if (typeof message.model === 'string') this.model = message.model;
    if (isObject(message.usage)) this.readUsage(message.usage);
  }

  private readUsage(usage: Record<string, unknown>): void {
    this.seen = true;
    const c = this.counts;
    c.inputTokens = count(usage.input_tokens) ?? c.inputTokens;
    c.outputTokens = count(usage.output_tokens) ?? c.outputTokens;
    c.cacheReadInputTokens = count(usage.cache_read_input_tokens) ?? c.cacheReadInputTokens;
    c.cacheCreationInputTokens = count(usage.cache_creation_input_tokens) ?? c.cacheCreationInputTokens;
  }
}

/**
 * Responses API. Streaming: the final `response.completed` (or `response.incomplete`, or
 * `response.failed`) carries the whole response with its usage; nothing before it does.
 */
class OpenAIUsage implements UsageReader {
  private usage: CallUsage | undefined;

  wantsEvent(name: string | undefined): boolean {
    return name === undefined || name === 'response.completed' || name === 'response.incomplete' || name === 'response.failed';
  }

  readEvent(event: Record<string, unknown>): void {
    const final = event.type === 'response.completed' || event.type === 'response.incomplete' || event.type === 'response.failed';
    if (final && isObject(event.response)) this.readBody(event.response);
  }

  readBody(body: Record<string, unknown>): void {
    if (!isObject(body.usage)) return;
    const details = isObject(body.usage.input_tokens_details) ? body.usage.input_tokens_details : {};
    const input = count(body.usage.input_tokens) ?? 0;
    const cached = Math.min(count(details.cached_tokens) ?? 0, input);
    this.usage = {
      api: 'openai',
      ...(typeof body.model === 'string' ? { model: body.model } : {}),
      inputTokens: input - cached,
      outputTokens: count(body.usage.output_tokens) ?? 0,
      cacheReadInputTokens: cached,
      cacheCreationInputTokens: 0,
    };
  }

  result(): CallUsage | undefined {
    return this.usage;
  }
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
