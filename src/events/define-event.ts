import { z } from 'zod';

/**
 * One event type of the stream: its name and the schema of the event as sent.
 * Modelled on opencode's `BusEvent.define` (packages/opencode/src/bus/bus-event.ts):
 * the schema is the single source of the event's TypeScript type, its OpenAPI
 * schema and what a client parses. Only zod here, so it runs in browsers too.
 */
export interface EventDefinition<Type extends string = string, Shape extends z.ZodRawShape = z.ZodRawShape> {
  readonly type: Type;
  /** When the event is sent, for API documents. */
  readonly description: string | undefined;
  /** The whole event: `type`, `timestamp` (added by the event log) and the event's own fields. */
  readonly schema: z.ZodObject<{ type: z.ZodLiteral<Type>; timestamp: z.ZodString } & Shape>;
}

/**
 * Defines an event from its own fields; `type` and `timestamp` are added here,
 * so every event has them. A description set with `.describe()` on `fields`
 * says when the event is sent.
 */
export function defineEvent<const Type extends string, Shape extends z.ZodRawShape>(
  type: Type,
  fields: z.ZodObject<Shape>,
): EventDefinition<Type, Shape> {
  const schema = z.object({ type: z.literal(type), timestamp: z.string(), ...fields.shape });
  return { type, description: fields.description, schema };
}
