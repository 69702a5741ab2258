import { createHash, timingSafeEqual } from 'node:crypto';
import { WorkerError } from '../errors/worker-error.js';

/** Checks `Authorization: Bearer <token>` in constant time. */
export function assertBearerToken(header: string | undefined, expected: string): void {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match || !sameSecret(match[1]!.trim(), expected)) {
    throw new WorkerError('UNAUTHORIZED', 'A valid "Authorization: Bearer <token>" header is required.');
  }
}

function sameSecret(given: string, expected: string): boolean {
  // Hash both so the comparison takes the same time whatever the lengths.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
