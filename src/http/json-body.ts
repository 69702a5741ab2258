import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidField, WorkerError } from '../errors/worker-error.js';

/**
 * Replaces Fastify's `application/json` body parser (issue #8):
 * - an empty body is no body: many clients send `Content-Type: application/json`
 *   on every POST, also to routes that take none (`/sessions/:id/abort`); a
 *   route that needs a body (`/execute`) refuses the missing one itself;
 * - a key that could reach an object's prototype (`__proto__`, or
 *   `constructor.prototype`) is still refused, as Fastify's secure parser
 *   does, but with a 400 that names the key instead of "not valid JSON".
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  // parseAs 'string' keeps the server's bodyLimit (413 PAYLOAD_TOO_LARGE).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, async (_request: FastifyRequest, body: string) =>
    parseJsonBody(body),
  );
}

/** Parses a request body; `undefined` for an empty one. Throws a VALIDATION_ERROR WorkerError. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new WorkerError('VALIDATION_ERROR', `The request body is not valid JSON: ${syntaxErrorDetail(error)}.`);
  }
  const path = prototypeKeyPath(value);
  if (path !== undefined) {
    const what = path[path.length - 1] === 'prototype' ? 'A "constructor" object with a "prototype" key' : 'A "__proto__" key';
    const field = path.join('.');
    throw invalidField(
      field,
      `${what} is not allowed in a request body (found at ${field}): it could change an object's prototype.`,
    );
  }
  return value;
}

/** V8's message without the excerpt of the body it quotes, which may be part of a credential. */
function syntaxErrorDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/, ".*$/s, '');
}

interface PendingNode {
  value: unknown;
  key?: string;
  parent?: PendingNode;
}

/**
 * The path of the first `__proto__` key, or of a `constructor` object with a
 * `prototype` key (the keys Fastify's secure-json-parse refuses). JSON.parse
 * makes them own properties, harmless until some code merges the object into
 * another. Iterative: JSON.parse accepts nesting far deeper than the call stack.
 */
function prototypeKeyPath(root: unknown): string[] | undefined {
  const pending: PendingNode[] = [{ value: root }];
  while (pending.length > 0) {
    const node = pending.pop()!;
    const { value } = node;
    if (value === null || typeof value !== 'object') continue;
    if (Object.hasOwn(value, '__proto__')) return [...pathOf(node), '__proto__'];
    const constructor = Object.hasOwn(value, 'constructor') ? (value as { constructor: unknown }).constructor : undefined;
    if (typeof constructor === 'object' && constructor !== null && Object.hasOwn(constructor, 'prototype')) {
      return [...pathOf(node), 'constructor', 'prototype'];
    }
    // Reversed, so that the stack visits keys in the order they were sent.
    for (const [key, child] of Object.entries(value).reverse()) pending.push({ value: child, key, parent: node });
  }
  return undefined;
}

function pathOf(node: PendingNode): string[] {
  const path: string[] = [];
  for (let current: PendingNode | undefined = node; current?.key !== undefined; current = current.parent) {
    path.push(current.key);
  }
  return path.reverse();
}
