import type { UserRequest } from '../providers/types.js';

const MAX_TITLE = 80;

/** A short, deterministic session title from the request's text. */
export function titleFromRequest(request: UserRequest): string {
  const text = typeof request === 'string' ? request : request.map((block) => (block.type === 'text' ? block.text : '')).join(' ');
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return 'Untitled session';
  return line.length <= MAX_TITLE ? line : `${line.slice(0, MAX_TITLE - 1).trimEnd()}…`;
}
