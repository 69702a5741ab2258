import { z } from 'zod';
import { HTTP_ERROR_CODES, type HttpErrorCode } from '../errors/codes.js';
import { errorBodySchema } from '../errors/error-body.js';
import { EVENT_DEFINITIONS, workerEventSchema } from '../events/registry.js';
import { normalizedItemSchema } from '../events/normalized.js';
import { usageSchema } from '../events/usage.js';
import { isolationStatusSchema } from '../isolation/types.js';
import { sessionMetadataSchema } from '../storage/types.js';
import { OPERATIONS, type OperationSpec, type ResponseSpec } from './openapi-operations.js';

/**
 * GET /openapi.json: an OpenAPI 3.1 document generated from the schemas the
 * code runs with — the request body the route validates (its input side), the
 * event registry, the error body and the response schemas. Built once per
 * worker: it documents the routes this server registered, and the bearer token
 * as required or optional as the worker is configured.
 */

/** The version of the document; raise it with the wire contract. */
const DOCUMENT_VERSION = '1.0.0';

type JsonSchema = Record<string, unknown>;

export interface RegisteredRoute {
  method: string;
  /** Fastify's form: `/sessions/:id`. */
  url: string;
}

export interface OpenApiOptions {
  routes: readonly RegisteredRoute[];
  /** True when WORKER_API_TOKEN is set: every endpoint but /health needs the bearer token. */
  tokenRequired: boolean;
}

/** Components generated from zod schemas: output side for what the worker sends. */
function outputComponents(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  registry.add(errorBodySchema, { id: 'ErrorBody' });
  registry.add(usageSchema, { id: 'Usage' });
  registry.add(normalizedItemSchema, { id: 'NormalizedItem' });
  registry.add(isolationStatusSchema, { id: 'IsolationStatus' });
  registry.add(sessionMetadataSchema, { id: 'SessionMetadata' });
  for (const definition of EVENT_DEFINITIONS) registry.add(definition.schema, { id: eventComponentName(definition.type) });
  registry.add(workerEventSchema, { id: 'WorkerEvent' });
  for (const spec of Object.values(OPERATIONS)) {
    for (const { json } of Object.values(spec.responses)) {
      if (json && !registry.has(json.schema)) registry.add(json.schema, { id: json.name });
    }
  }
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const components = Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, bare(schema)]));

  for (const definition of EVENT_DEFINITIONS) {
    const component = components[eventComponentName(definition.type)]!;
    if (definition.description) component.description = definition.description;
  }
  // The stream's frames: each `data:` line is one of these, told apart by `type`.
  components.WorkerEvent!.discriminator = {
    propertyName: 'type',
    mapping: Object.fromEntries(
      EVENT_DEFINITIONS.map((definition) => [definition.type, `#/components/schemas/${eventComponentName(definition.type)}`]),
    ),
  };
  return components;
}

/** Request bodies: the input side of the schemas the routes validate with (before defaults and transforms). */
function inputComponents(): Record<string, JsonSchema> {
  const components: Record<string, JsonSchema> = {};
  for (const spec of Object.values(OPERATIONS)) {
    if (!spec.body) continue;
    components[spec.body.name] = bare(
      z.toJSONSchema(spec.body.schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }),
    );
  }
  return components;
}

/** Builds the document for the routes a server registered. */
export function buildOpenApiDocument({ routes, tokenRequired }: OpenApiOptions): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, url } of routes) {
    if (method === 'HEAD' || method === 'OPTIONS') continue;
    const key = `${method} ${url}`;
    const spec = OPERATIONS[key];
    const path = url.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = spec ? operation(key, spec, tokenRequired) : undocumented(url);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'ai-coding-worker',
      version: DOCUMENT_VERSION,
      description:
        'Runs AI coding agents and streams their events as Server-Sent Events. The prose contract is API.md; ' +
        "this document is generated from the worker's own schemas.",
    },
    paths,
    components: {
      schemas: { ...outputComponents(), ...inputComponents() },
      headers: {
        ContainerId: { description: "The worker's hostname.", schema: { type: 'string' } },
        SessionId: { description: 'The session the stream belongs to.', schema: { type: 'string' } },
        RetryAfter: { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
      },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'The worker\'s WORKER_API_TOKEN as "Authorization: Bearer <token>". Needed by every endpoint but ' +
            'GET /health when the worker has a token; without one, every endpoint is open.',
        },
      },
    },
    // Optional (the empty requirement) when this worker has no token.
    security: tokenRequired ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, {}],
  };
}

function operation(key: string, spec: OperationSpec, tokenRequired: boolean): JsonSchema {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) responses[status] = successResponse(response);

  const errorCodes = new Set<HttpErrorCode>([...spec.errors, 'INTERNAL_ERROR']);
  if (tokenRequired && !spec.public) errorCodes.add('UNAUTHORIZED');
  const byStatus = new Map<number, HttpErrorCode[]>();
  for (const code of errorCodes) {
    const { status } = HTTP_ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = errorResponse(codes);
  }

  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.public ? { security: [] } : {}),
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: spec.body.required,
            content: { 'application/json': { schema: { $ref: `#/components/schemas/${spec.body.name}` } } },
          },
        }
      : {}),
    responses,
    'x-route': key,
  };
}

function successResponse(response: ResponseSpec): JsonSchema {
  const headers: Record<string, unknown> = { 'X-Container-ID': { $ref: '#/components/headers/ContainerId' } };
  if (response.stream) headers['X-Session-ID'] = { $ref: '#/components/headers/SessionId' };
  if (response.retryAfter) headers['Retry-After'] = { $ref: '#/components/headers/RetryAfter' };
  if (response.text) return { description: response.description, headers, content: { [response.text]: { schema: { type: 'string' } } } };
  const schema = response.stream
    ? { $ref: '#/components/schemas/WorkerEvent' }
    : response.json
      ? { $ref: `#/components/schemas/${response.json.name}` }
      : { type: 'object', description: 'This document.' };
  return {
    description: response.description,
    headers,
    content: { [response.stream ? 'text/event-stream' : 'application/json']: { schema } },
  };
}

function errorResponse(codes: HttpErrorCode[]): JsonSchema {
  const headers: Record<string, unknown> = { 'X-Container-ID': { $ref: '#/components/headers/ContainerId' } };
  if (codes.includes('WORKER_BUSY')) headers['Retry-After'] = { $ref: '#/components/headers/RetryAfter' };
  return {
    description: codes.map((code) => `\`${code}\`: ${HTTP_ERROR_CODES[code].message}`).join(' '),
    headers,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
  };
}

/** A route registered without an entry in OPERATIONS: listed, so that a test notices. */
function undocumented(url: string): JsonSchema {
  return {
    summary: `${url} (not documented yet)`,
    'x-undocumented': true,
    responses: { default: errorResponse(['INTERNAL_ERROR']) },
  };
}

export function eventComponentName(type: string): string {
  return `${type.replace(/(^|_)(\w)/g, (_, _sep, letter: string) => letter.toUpperCase())}Event`;
}

/** Drops what zod adds for a standalone schema: a component is part of the document. */
function bare(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}
