import { randomUUID } from 'node:crypto';

/** 1–128 characters of [A-Za-z0-9._-], not starting with a dot: safe as a folder and object name. */
const SESSION_ID = /^(?!\.)[A-Za-z0-9._-]{1,128}$/;

export function isValidSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}

export function newSessionId(): string {
  return randomUUID();
}
