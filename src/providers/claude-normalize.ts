/**
 * Claude Agent SDK messages → the normalized view (src/events/normalized.ts).
 *
 * `assistant` messages carry text / thinking / tool_use blocks; tool outcomes come back
 * as `tool_result` blocks inside `user` messages; `result` ends the run with usage and
 * cost. Partial stream events, hook and task chatter give nothing: the complete
 * messages repeat what matters.
 */
import { compact, NORMALIZED_VERSION, type NormalizedItem, type NormalizedUsage } from '../events/normalized.js';

const v = NORMALIZED_VERSION;

/** System subtypes worth showing; the rest (hooks, tasks, status pings) is housekeeping. */
const SHOWN_SYSTEM_SUBTYPES = new Set(['init', 'compact_boundary', 'api_retry', 'model_refusal_fallback', 'informational', 'notification']);

/** Normalizes one Claude Agent SDK message; unknown shapes give `[]`. */
export function normalizeClaudeMessage(message: unknown): NormalizedItem[] {
  if (!isObject(message)) return [];
  const parentToolId = typeof message.parent_tool_use_id === 'string' ? message.parent_tool_use_id : undefined;
  switch (message.type) {
    case 'system':
      return normalizeSystem(message);
    case 'assistant':
      return normalizeAssistant(message, parentToolId);
    case 'user':
      return normalizeUser(message, parentToolId);
    case 'result':
      return [normalizeResult(message)];
    default:
      return [];
  }
}

function normalizeSystem(message: Record<string, any>): NormalizedItem[] {
  const subtype = typeof message.subtype === 'string' ? message.subtype : 'unknown';
  if (!SHOWN_SYSTEM_SUBTYPES.has(subtype)) return [];
  if (subtype === 'init') {
    return [
      compact({
        v,
        kind: 'system' as const,
        subtype,
        sessionId: str(message.session_id),
        model: str(message.model),
        cwd: str(message.cwd),
        tools: Array.isArray(message.tools) ? message.tools.filter((t: unknown): t is string => typeof t === 'string') : undefined,
      }),
    ];
  }
  const text =
    subtype === 'api_retry'
      ? `API retry ${String(message.attempt)}/${String(message.max_retries)}: ${String(message.error_status ?? '')} ${String(message.error ?? '')}`.trim()
      : (str(message.text) ?? str(message.content) ?? str(message.message));
  return [compact({ v, kind: 'system' as const, subtype, text, sessionId: str(message.session_id) })];
}

function normalizeAssistant(message: Record<string, any>, parentToolId: string | undefined): NormalizedItem[] {
  const items: NormalizedItem[] = [];
  const content: unknown[] = Array.isArray(message.message?.content) ? message.message.content : [];
  // A synthetic assistant message (model `<synthetic>`) reports an API failure the CLI gave up on:
  // its text is the error, not an answer.
  if (typeof message.error === 'string') {
    const text = content.map((b) => (isObject(b) && typeof b.text === 'string' ? b.text : '')).join('\n').trim();
    return [compact({ v, kind: 'error' as const, text: text || message.error, fatal: true, parentToolId })];
  }
  for (const block of content) {
    if (!isObject(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') {
      items.push(compact({ v, kind: 'text' as const, text: block.text, parentToolId }));
    } else if (block.type === 'thinking' && typeof block.thinking === 'string' && block.thinking !== '') {
      items.push(compact({ v, kind: 'reasoning' as const, text: block.thinking, parentToolId }));
    } else if ((block.type === 'tool_use' || block.type === 'server_tool_use' || block.type === 'mcp_tool_use') && typeof block.name === 'string') {
      const name = block.type === 'mcp_tool_use' && typeof block.server_name === 'string' ? `${block.server_name}/${block.name}` : block.name;
      items.push(compact({ v, id: str(block.id), kind: 'tool_call' as const, tool: compact({ id: str(block.id), name, input: block.input ?? {} }), parentToolId }));
    }
  }
  return items;
}

function normalizeUser(message: Record<string, any>, parentToolId: string | undefined): NormalizedItem[] {
  const content: unknown = message.message?.content;
  if (!Array.isArray(content)) return [];
  const items: NormalizedItem[] = [];
  for (const block of content) {
    if (!isObject(block) || (block.type !== 'tool_result' && block.type !== 'mcp_tool_result')) continue;
    const id = str(block.tool_use_id);
    items.push(
      compact({
        v,
        id,
        kind: 'tool_result' as const,
        tool: compact({ id }),
        output: resultText(block.content),
        isError: block.is_error === true,
        parentToolId,
      }),
    );
  }
  return items;
}

function normalizeResult(message: Record<string, any>): NormalizedItem {
  const isError = message.is_error === true || message.subtype !== 'success';
  const errors = Array.isArray(message.errors) ? message.errors.filter((e: unknown) => typeof e === 'string' && e !== '') : [];
  const text = message.subtype === 'success' ? str(message.result) : errors.length > 0 ? errors.join('; ') : str(message.subtype);
  return compact({
    v,
    kind: 'result' as const,
    final: true as const,
    isError,
    text,
    usage: claudeUsage(message),
    usageScope: 'run' as const,
    sessionId: str(message.session_id),
    durationMs: num(message.duration_ms),
    numTurns: num(message.num_turns),
  });
}

function claudeUsage(result: Record<string, any>): NormalizedUsage | undefined {
  const usage = isObject(result.usage) ? result.usage : undefined;
  if (!usage && typeof result.total_cost_usd !== 'number') return undefined;
  return compact({
    inputTokens: num(usage?.input_tokens),
    outputTokens: num(usage?.output_tokens),
    cacheReadInputTokens: num(usage?.cache_read_input_tokens),
    cacheCreationInputTokens: num(usage?.cache_creation_input_tokens),
    costUsd: num(result.total_cost_usd),
  });
}

/** A tool result's content as text: strings as-is, text blocks joined, other blocks as `[type]`. */
function resultText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  return content.map((b) => (isObject(b) ? (typeof b.text === 'string' ? b.text : `[${String(b.type)}]`) : '')).join('\n');
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
