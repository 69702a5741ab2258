import { z } from 'zod';
import { usageSchema } from './usage.js';

/**
 * One provider-neutral view of agent messages (issue #5). Every `assistant_message`
 * event keeps the provider's own message in `data`, unchanged, and carries this view
 * beside it as `normalized: NormalizedItem[]`, so a client can render any agent
 * without knowing its SDK. One provider message becomes zero or more items.
 *
 * Versioned: `v` changes only on a breaking change; new kinds and new optional fields
 * are additive, so clients should ignore kinds they do not know.
 *
 * Tool names are the provider's own (`Bash`, `Edit` for Claude Code; `shell`,
 * `apply_patch`, `<server>/<tool>` for Codex): the schema unifies shapes, not tools.
 */
export const NORMALIZED_VERSION = 1;

const base = {
  v: z.literal(NORMALIZED_VERSION),
  /** The provider's id for the item or block, when it has one (correlates repeated updates). */
  id: z.string().optional(),
  /** Set on items produced inside a sub-agent: the id of the tool call that started it. */
  parentToolId: z.string().optional(),
};

export const normalizedUsageSchema = usageSchema.extend({
  /** Output tokens spent on reasoning (already included in `outputTokens`). */
  reasoningOutputTokens: z.number().optional(),
});

export const normalizedItemSchema = z.discriminatedUnion('kind', [
  /** Session set-up and housekeeping: `init` (session id, model, tools), `compact_boundary`, `api_retry`, ... */
  z.object({
    ...base,
    kind: z.literal('system'),
    subtype: z.string(),
    text: z.string().optional(),
    sessionId: z.string().optional(),
    model: z.string().optional(),
    cwd: z.string().optional(),
    tools: z.array(z.string()).optional(),
  }),
  /** Text the agent addresses to the user. */
  z.object({ ...base, kind: z.literal('text'), text: z.string() }),
  /** The agent's visible reasoning or reasoning summary. */
  z.object({ ...base, kind: z.literal('reasoning'), text: z.string() }),
  /** The agent asks for a tool to run. */
  z.object({
    ...base,
    kind: z.literal('tool_call'),
    tool: z.object({ id: z.string().optional(), name: z.string(), input: z.unknown() }),
  }),
  /** A tool's outcome. `tool.id` matches the call's; name and input are repeated when the provider reports them. */
  z.object({
    ...base,
    kind: z.literal('tool_result'),
    tool: z.object({ id: z.string().optional(), name: z.string().optional(), input: z.unknown().optional() }),
    output: z.string().optional(),
    isError: z.boolean(),
    exitCode: z.number().optional(),
  }),
  /** The agent's current plan (a full snapshot each time). */
  z.object({
    ...base,
    kind: z.literal('todo'),
    items: z.array(z.object({ text: z.string(), completed: z.boolean() })),
  }),
  /** A usage report that is not part of a final result. */
  z.object({
    ...base,
    kind: z.literal('usage'),
    usage: normalizedUsageSchema,
    /** `run`: this run of the agent only; `thread`: everything since the conversation began (Codex). */
    scope: z.enum(['run', 'thread']),
  }),
  /** A problem the agent reported. `fatal` errors end the run; others are warnings. */
  z.object({ ...base, kind: z.literal('error'), text: z.string(), fatal: z.boolean() }),
  /** The end of one run of the agent: always the last item of a run that ended normally. */
  z.object({
    ...base,
    kind: z.literal('result'),
    final: z.literal(true),
    isError: z.boolean(),
    text: z.string().optional(),
    usage: normalizedUsageSchema.optional(),
    usageScope: z.enum(['run', 'thread']).optional(),
    sessionId: z.string().optional(),
    durationMs: z.number().optional(),
    numTurns: z.number().optional(),
  }),
]);

export type NormalizedItem = z.infer<typeof normalizedItemSchema>;
export type NormalizedKind = NormalizedItem['kind'];
export type NormalizedUsage = z.infer<typeof normalizedUsageSchema>;

/** Turns one provider message into normalized items; never throws, unknown shapes give `[]`. */
export type Normalizer = (message: unknown) => NormalizedItem[];

/** Drops `undefined` fields so items compare and serialise cleanly. */
export function compact<T extends Record<string, unknown>>(item: T): T {
  for (const key of Object.keys(item)) if (item[key] === undefined) delete item[key];
  return item;
}
