import { randomUUID } from 'node:crypto';
import { invalidField, type WorkerError } from '../errors/worker-error.js';

/**
 * The longest session id, in the request body and in `/sessions/:id…` paths
 * alike: the HTTP router's parameter limit is set from it too (issue #8).
 */
export const SESSION_ID_MAX_LENGTH = 128;

/** 1–128 characters of [A-Za-z0-9._-], not starting with a dot: safe as a folder and object name. */
export const SESSION_ID_PATTERN = new RegExp(`^(?!\\.)[A-Za-z0-9._-]{1,${SESSION_ID_MAX_LENGTH}}$`);

/** What a valid id looks like, for the messages of every place that checks one. */
export const SESSION_ID_RULE = `must be 1-${SESSION_ID_MAX_LENGTH} characters of A-Z a-z 0-9 . _ - and must not start with "."`;

export function isValidSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_PATTERN.test(value);
}

/** The 400 for a `/sessions/:id…` path whose id POST /execute would not accept. */
export function invalidSessionIdParam(): WorkerError {
  return invalidField('sessionId', `The session id ${SESSION_ID_RULE}.`);
}

export function newSessionId(): string {
  return randomUUID();
}
