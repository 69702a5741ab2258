import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_DEFINITIONS, EVENT_TYPES, eventSchemas, workerEventSchema } from '../../src/events/registry.js';
import { buildOpenApiDocument, eventComponentName } from '../../src/http/openapi.js';

type Document = {
  security: unknown[];
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, { oneOf?: Array<{ $ref: string }> }> };
};

const routes = [
  { method: 'GET', url: '/health' },
  { method: 'HEAD', url: '/health' },
  { method: 'GET', url: '/sessions/:id' },
  { method: 'GET', url: '/not-in-the-table' },
];

describe('the event registry and the OpenAPI document built from it', () => {
  it('defines each event type once, with `type` and `timestamp`', () => {
    assert.equal(new Set(EVENT_TYPES).size, EVENT_TYPES.length);
    for (const { type, schema } of EVENT_DEFINITIONS) {
      assert.equal(eventSchemas[type], schema);
      assert.ok(schema.shape.type && schema.shape.timestamp, `${type} has type and timestamp`);
    }
    const parsed = workerEventSchema.parse({ type: 'message', timestamp: '2026-01-01T00:00:00.000Z', message: 'hi' });
    assert.deepEqual(parsed, { type: 'message', timestamp: '2026-01-01T00:00:00.000Z', message: 'hi' });
    assert.equal(workerEventSchema.safeParse({ type: 'message', timestamp: 'x' }).success, false);
  });

  it('has one schema per event, and the stream is their union', () => {
    const doc = buildOpenApiDocument({ routes, tokenRequired: false }) as Document;
    const union = doc.components.schemas.WorkerEvent!.oneOf!.map((branch) => branch.$ref);
    assert.deepEqual(
      union,
      EVENT_TYPES.map((type) => `#/components/schemas/${eventComponentName(type)}`),
    );
    assert.equal(eventComponentName('github_pull_progress'), 'GithubPullProgressEvent');
  });

  it('documents the routes it is given, and marks those without an entry', () => {
    const doc = buildOpenApiDocument({ routes, tokenRequired: false }) as Document;
    assert.deepEqual(Object.keys(doc.paths), ['/health', '/sessions/{id}', '/not-in-the-table']);
    assert.deepEqual(Object.keys(doc.paths['/health']!), ['get'], 'HEAD routes are left out');
    assert.equal(doc.paths['/not-in-the-table']!.get!['x-undocumented'], true);
    assert.equal(doc.paths['/sessions/{id}']!.get!['x-undocumented'], undefined);
  });

  it('makes the bearer token optional without WORKER_API_TOKEN and required with it', () => {
    const open = buildOpenApiDocument({ routes, tokenRequired: false }) as Document;
    assert.deepEqual(open.security, [{ bearerAuth: [] }, {}]);
    assert.equal(Object.hasOwn(open.paths['/sessions/{id}']!.get!.responses as object, '401'), false);
    const closed = buildOpenApiDocument({ routes, tokenRequired: true }) as Document;
    assert.deepEqual(closed.security, [{ bearerAuth: [] }]);
    assert.ok((closed.paths['/sessions/{id}']!.get!.responses as Record<string, unknown>)['401']);
    assert.deepEqual(closed.paths['/health']!.get!.security, []);
  });
});
