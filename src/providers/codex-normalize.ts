/**
 * Codex SDK `ThreadEvent`s → the normalized view (src/events/normalized.ts).
 *
 * Codex reports each item up to three times (`item.started`, `item.updated`,
 * `item.completed`). Tool-like items become a `tool_call` when they start and a
 * `tool_result` when they complete; text and reasoning only when complete, so each
 * appears once. A file change is reported only once it is applied, so it gives both.
 */
import type { ThreadEvent, ThreadItem, Usage } from '@openai/codex-sdk';
import { compact, NORMALIZED_VERSION, type NormalizedItem, type NormalizedUsage } from '../events/normalized.js';

const v = NORMALIZED_VERSION;
const RETRY_NOTICE = /^Reconnecting\.\.\. \d+\/\d+/;

/** Normalizes one Codex `ThreadEvent`; unknown shapes give `[]`. */
export function normalizeCodexEvent(message: unknown): NormalizedItem[] {
  if (!isObject(message) || typeof message.type !== 'string') return [];
  const event = message as ThreadEvent;
  switch (event.type) {
    case 'thread.started':
      return [{ v, kind: 'system', subtype: 'init', sessionId: event.thread_id }];
    case 'turn.started':
      return [];
    case 'turn.completed':
      return [compact({ v, kind: 'result', final: true, isError: false, usage: codexUsage(event.usage), usageScope: 'thread' })];
    case 'turn.failed':
      return [{ v, kind: 'result', final: true, isError: true, text: event.error?.message ?? 'Codex turn failed' }];
    case 'error':
      // The stream's error events also carry retry notices, which are not the end.
      return [{ v, kind: 'error', text: event.message, fatal: !RETRY_NOTICE.test(event.message) }];
    case 'item.started':
    case 'item.updated':
    case 'item.completed':
      return isObject(event.item) ? normalizeItem(event.type, event.item) : [];
    default:
      return [];
  }
}

function normalizeItem(phase: 'item.started' | 'item.updated' | 'item.completed', item: ThreadItem): NormalizedItem[] {
  const done = phase === 'item.completed';
  const started = phase === 'item.started';
  switch (item.type) {
    case 'agent_message':
      return done ? [{ v, id: item.id, kind: 'text', text: item.text }] : [];
    case 'reasoning':
      return done && item.text ? [{ v, id: item.id, kind: 'reasoning', text: item.text }] : [];
    case 'command_execution': {
      const tool = { id: item.id, name: 'shell', input: { command: item.command } };
      if (started) return [{ v, id: item.id, kind: 'tool_call', tool }];
      if (!done) return [];
      return [
        compact({
          v,
          id: item.id,
          kind: 'tool_result' as const,
          tool,
          output: item.aggregated_output,
          isError: item.status === 'failed' || (item.exit_code !== undefined && item.exit_code !== 0),
          exitCode: item.exit_code ?? undefined,
        }),
      ];
    }
    case 'file_change': {
      if (!done) return [];
      const tool = { id: item.id, name: 'apply_patch', input: { changes: item.changes } };
      const summary = item.changes.map((c) => `${c.kind} ${c.path}`).join('\n');
      return [
        { v, id: item.id, kind: 'tool_call', tool },
        { v, id: item.id, kind: 'tool_result', tool, output: summary, isError: item.status === 'failed' },
      ];
    }
    case 'mcp_tool_call': {
      const tool = { id: item.id, name: `${item.server}/${item.tool}`, input: item.arguments };
      if (started) return [{ v, id: item.id, kind: 'tool_call', tool }];
      if (!done) return [];
      const output = item.error?.message ?? contentText(item.result?.content);
      return [compact({ v, id: item.id, kind: 'tool_result' as const, tool, output, isError: item.status === 'failed' || item.error !== undefined })];
    }
    case 'web_search': {
      const tool = { id: item.id, name: 'web_search', input: { query: item.query } };
      if (started) return [{ v, id: item.id, kind: 'tool_call', tool }];
      return done ? [{ v, id: item.id, kind: 'tool_result', tool, isError: false }] : [];
    }
    case 'todo_list':
      return [{ v, id: item.id, kind: 'todo', items: item.items.map((i) => ({ text: i.text, completed: i.completed })) }];
    case 'error':
      // Non-fatal: Codex surfaces warnings (config, model metadata, retries) as error items.
      return done ? [{ v, id: item.id, kind: 'error', text: item.message, fatal: false }] : [];
    default:
      return [];
  }
}

/**
 * Codex's usage, mapped to the worker's convention: `inputTokens` excludes cache reads
 * (OpenAI counts cached tokens inside `input_tokens`; Anthropic does not).
 */
export function codexUsage(usage: Usage | null | undefined): NormalizedUsage | undefined {
  if (!usage) return undefined;
  const cached = usage.cached_input_tokens ?? 0;
  return compact({
    inputTokens: Math.max(0, (usage.input_tokens ?? 0) - cached),
    outputTokens: usage.output_tokens ?? 0,
    cacheReadInputTokens: cached,
    cacheCreationInputTokens: usage.cache_write_input_tokens ?? 0,
    reasoningOutputTokens: usage.reasoning_output_tokens ?? undefined,
  });
}

function contentText(content: unknown): string | undefined {
  if (!Array.isArray(content)) return undefined;
  const parts = content.map((block) => (isObject(block) && typeof block.text === 'string' ? block.text : isObject(block) ? `[${String(block.type)}]` : ''));
  return parts.join('\n');
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
