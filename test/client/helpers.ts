import type { ExecuteRequest, StreamEvent } from '../../src/client/index.js';
import { OAUTH_CREDENTIALS } from '../jobs/helpers.js';

/** A Claude Code job request with the fake model's credentials. */
export function jobRequest(userRequest: string, extra: Partial<ExecuteRequest> = {}): ExecuteRequest {
  return {
    userRequest,
    codingAssistantProvider: 'ClaudeAgentSDK',
    codingAssistantAuthentication: OAUTH_CREDENTIALS,
    ...extra,
  };
}

/** Reads an event iterable to its end. */
export async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const item of events) out.push(item);
  return out;
}

/** A model that thinks for `ms` before answering each conversation turn. */
export const slowModel = (ms: number) => () => ({ type: 'text' as const, text: 'Finally done.', delayMs: ms });

/** `[first, first + 1, …, last]` */
export function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}
