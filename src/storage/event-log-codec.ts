import type { NumberedEvent } from '../events/registry.js';

/** The stored form of a session's event log: one `{"id", "event"}` JSON object per line. */
export function encodeEventLog(events: readonly NumberedEvent[]): string {
  return events.map((event) => `${JSON.stringify(event)}\n`).join('');
}

export function decodeEventLog(text: string | undefined): NumberedEvent[] {
  if (!text) return [];
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as NumberedEvent);
}
