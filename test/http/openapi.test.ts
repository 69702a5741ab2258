import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { EVENT_TYPES } from '../../src/events/registry.js';
import type { ScriptContext } from '../fixtures/fake-anthropic.js';
import { startFakePullsApi, startGitServer, type FakePullsApi, type GitServer } from '../fixtures/git-server.js';
import { getStream, postExecute, request, type SseEvent, type WorkerResponse } from '../fixtures/sse.js';
import { claudeRequest, startRig, type Rig } from '../jobs/helpers.js';

/**
 * GET /openapi.json against an independent OpenAPI validator, and the real
 * worker's answers against the document: every JSON body and every SSE event
 * of real jobs (real agent, fake model, real git) must fit what it says.
 */

const TOKEN = 'openapi-test-token-7c1e';
const GIT_TOKEN = 'ghp_OPENAPITEST_GIT_TOKEN_3e2d1c';
/** Where ajv keeps the document, so that `#/components/...` refs resolve inside it. */
const BASE = 'https://worker.test/openapi.json';

type Document = {
  openapi: string;
  security: unknown[];
  paths: Record<string, Record<string, { security?: unknown[]; 'x-undocumented'?: boolean; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
};

/** The agent writes the file named by "WRITE <name>", fails on "FAIL-THE-MODEL", else answers. */
function script({ request: recorded }: ScriptContext) {
  const text = JSON.stringify(recorded.body.messages ?? []);
  if (text.includes('FAIL-THE-MODEL')) return { type: 'error' as const, status: 400, message: 'fake model refuses this request' };
  const asked = /WRITE ([\w.-]+)/.exec(text);
  if (!text.includes('tool_result') && asked) {
    return { type: 'tool_use' as const, name: 'Write', input: { file_path: asked[1]!, content: 'written\n' } };
  }
  return { type: 'text' as const, text: 'Done.' };
}

/** JSON pointer escaping of one path segment. */
const escape = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

describe('GET /openapi.json', () => {
  let rig: Rig;
  let gitServer: GitServer;
  let pullsApi: FakePullsApi;
  let doc: Document;
  let ajv: Ajv2020;
  const cache = new Map<string, ValidateFunction>();

  /** The schema the document gives for one response (or request body) of one operation. */
  function schemaAt(pointer: string): ValidateFunction {
    let validate = cache.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `${BASE}#${pointer}` });
      cache.set(pointer, validate);
    }
    return validate;
  }

  function assertFits(validate: ValidateFunction, value: unknown, what: string): void {
    assert.ok(validate(value), `${what} does not fit the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
  }

  /** Checks a JSON answer against the document's schema for its status on `method path`. */
  function assertDocumented(method: string, path: string, res: WorkerResponse): void {
    const type = res.isStream ? 'text/event-stream' : 'application/json';
    const pointer = `/paths/${escape(path)}/${method}/responses/${res.status}/content/${escape(type)}/schema`;
    assertFits(schemaAt(pointer), res.json, `${method.toUpperCase()} ${path} → ${res.status}`);
  }

  /** Checks every event of a stream against the event schema `method path` documents for its 200. */
  function assertEventsDocumented(method: string, path: string, events: SseEvent[]): void {
    const validate = schemaAt(`/paths/${escape(path)}/${method}/responses/200/content/text~1event-stream/schema`);
    const { mapping } = (doc.components.schemas.WorkerEvent as { discriminator: { mapping: Record<string, string> } }).discriminator;
    for (const { id, data } of events) {
      const type = data.type;
      if (validate(data)) continue;
      // The event's own schema says what is wrong more plainly than the union's every branch.
      const own = mapping[type];
      const what = `event ${id} (${type}) of ${path}`;
      assert.ok(own, `${what} is of a type the document does not know`);
      assertFits(schemaAt(own.slice(1)), data, what);
      assert.fail(`${what} fits its own schema but not the stream's: ${ajv.errorsText(validate.errors)}`);
    }
  }

  const seenEventTypes = new Set<string>();

  before(async () => {
    gitServer = await startGitServer({ token: GIT_TOKEN });
    pullsApi = await startFakePullsApi({ token: GIT_TOKEN });
    rig = await startRig(script, {
      WORKER_API_TOKEN: TOKEN,
      GIT_ALLOWED_URL_PREFIXES: `${gitServer.url}/`,
      GITHUB_API_URL: pullsApi.url,
    });
    const res = await request(`${rig.worker.url}/openapi.json`, { token: TOKEN });
    assert.equal(res.status, 200, res.text);
    doc = res.json as Document;
    ajv = new Ajv2020({ strict: true, allErrors: true });
    // OpenAPI's own keywords around and inside the schemas are annotations for ajv.
    ajv.addVocabulary(['openapi', 'info', 'paths', 'components', 'security', 'discriminator']);
    ajv.addSchema(doc, BASE);
  });

  after(async () => {
    await rig?.close();
    await gitServer?.close();
    await pullsApi?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.deepEqual(result.errors, undefined, JSON.stringify(result.errors, null, 2));
    assert.equal(result.valid, true);
    assert.equal(validator.version, '3.1');
    // Every schema is a JSON Schema 2020-12 that ajv compiles in strict mode.
    for (const name of Object.keys(doc.components.schemas)) schemaAt(`/components/schemas/${name}`);
  });

  it('documents every route the worker registered', () => {
    const undocumented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation['x-undocumented'])
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(undocumented, [], 'routes without an entry in src/http/openapi-operations.ts');
    const expected = {
      '/health': ['get'],
      '/status': ['get'],
      '/execute': ['post'],
      '/sessions': ['get'],
      '/sessions/{id}': ['get', 'delete'],
      '/sessions/{id}/stream': ['get'],
      '/sessions/{id}/abort': ['post'],
      '/openapi.json': ['get'],
      '/metrics': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const method of methods) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
    }
    const eventSchemas = Object.keys(doc.components.schemas).filter((name) => /.Event$/.test(name) && name !== 'WorkerEvent');
    assert.equal(eventSchemas.length, EVENT_TYPES.length, 'one schema per event of the registry');
  });

  it('asks for the bearer token as the worker does: everywhere but the probes (/health, /ready), itself included', async () => {
    assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
    assert.deepEqual(doc.paths['/health']!.get!.security, []);
    const health = await request(`${rig.worker.url}/health`);
    assert.equal(health.status, 200);
    assertDocumented('get', '/health', health);
    assert.deepEqual(doc.paths['/ready']!.get!.security, []);
    const ready = await request(`${rig.worker.url}/ready`);
    assert.deepEqual([ready.status, ready.json], [200, { ready: true }]);
    assertDocumented('get', '/ready', ready);

    const refused = await request(`${rig.worker.url}/openapi.json`);
    assert.equal(refused.status, 401);
    assertDocumented('get', '/openapi.json', refused);
  });

  it('describes the request body POST /execute validates', () => {
    const body = schemaAt('/components/schemas/ExecuteRequest');
    assertFits(body, claudeRequest('hello'), 'a plain request');
    assertFits(
      body,
      claudeRequest([{ type: 'text', text: 'hi' }], {
        websiteSessionId: 'my-session.1',
        github: { repoUrl: 'https://github.com/acme/x.git', branch: 'main' },
        pullRequest: { draft: true },
        providerOptions: { model: 'claude-x', maxTurns: 3, somethingElse: 1 },
        unknownTopLevel: 'ignored',
      }),
      'a full request',
    );
    assert.equal(body({ codingAssistantProvider: 'claude' }), false, 'userRequest is required');
    assert.equal(body(claudeRequest('x', { websiteSessionId: '.hidden' })), false, 'session ids follow their pattern');
    assert.equal(body(claudeRequest('x', { providerOptions: { maxTurns: 0 } })), false, 'maxTurns is at least 1');
  });

  it('describes every event of real jobs, live and replayed', async () => {
    const repo = await gitServer.createRepo('acme/openapi', { 'README.md': '# openapi\n' });
    const githubJob = claudeRequest('Please WRITE feature.txt', {
      websiteSessionId: 'openapi-gh',
      github: { repoUrl: repo.url, accessToken: GIT_TOKEN },
      pullRequest: true,
    });
    assertFits(schemaAt('/components/schemas/ExecuteRequest'), githubJob, 'the request sent');
    const res = await postExecute(rig.worker.url, githubJob, {}, { token: TOKEN });
    assert.equal(res.status, 200);

    // While the job runs: /status and the session's details, whichever form they take then.
    assertDocumented('get', '/status', await request(`${rig.worker.url}/status`, { token: TOKEN }));
    assertDocumented('get', '/sessions/{id}', await request(`${rig.worker.url}/sessions/openapi-gh`, { token: TOKEN }));

    const events = await res.events();
    assert.equal(events.at(-1)?.data.type, 'completed', JSON.stringify(events.at(-1)?.data));
    assertEventsDocumented('post', '/execute', events);

    const failed = await (await postExecute(rig.worker.url, claudeRequest('FAIL-THE-MODEL'), {}, { token: TOKEN })).events();
    assert.equal(failed.at(-1)?.data.type, 'error');
    assertEventsDocumented('post', '/execute', failed);

    const replayed = await (await getStream(rig.worker.url, 'openapi-gh', undefined, { token: TOKEN })).events();
    assert.deepEqual(replayed.map((event) => event.raw), events.map((event) => event.raw));
    assertEventsDocumented('get', '/sessions/{id}/stream', replayed);

    for (const event of [...events, ...failed]) seenEventTypes.add(event.data.type);
    for (const type of ['connected', 'github_pull_progress', 'branch_created', 'session_name', 'assistant_message']) {
      assert.ok(seenEventTypes.has(type), `the jobs sent a ${type} event`);
    }
    for (const type of ['commit_progress', 'pull_request', 'completed', 'error']) {
      assert.ok(seenEventTypes.has(type), `the jobs sent a ${type} event`);
    }
  });

  it('describes the JSON answers: status, sessions, one session, delete, abort, shutdown', async () => {
    const get = (path: string) => request(`${rig.worker.url}${path}`, { token: TOKEN });
    const status = await get('/status');
    assert.equal(status.status, 200);
    assertDocumented('get', '/status', status);

    const list = await get('/sessions');
    assert.equal(list.status, 200);
    assert.ok((list.json as { count: number }).count >= 2);
    assertDocumented('get', '/sessions', list);
    const page = await get('/sessions?limit=1');
    assert.equal((page.json as { nextOffset?: number }).nextOffset, 1);
    assertDocumented('get', '/sessions', page);

    const one = await get('/sessions/openapi-gh');
    assert.equal(one.status, 200);
    assert.equal((one.json as { github?: unknown }).github !== undefined, true, 'a session with its repository');
    assertDocumented('get', '/sessions/{id}', one);

    const shutdown = await request(`${rig.worker.url}/shutdown`, { method: 'POST', token: TOKEN });
    if (doc.paths['/shutdown']) {
      assert.equal(shutdown.status, 200);
      assertDocumented('post', '/shutdown', shutdown);
    }

    const deleted = await request(`${rig.worker.url}/sessions/openapi-gh`, { method: 'DELETE', token: TOKEN });
    assert.equal(deleted.status, 200);
    assertDocumented('delete', '/sessions/{id}', deleted);
  });

  it('describes the error bodies', async () => {
    const url = rig.worker.url;
    const answers: Array<[string, string, WorkerResponse, number]> = [
      ['get', '/status', await request(`${url}/status`), 401],
      ['post', '/execute', await postExecute(url, {}, {}, { token: TOKEN }), 400],
      ['post', '/execute', await postExecute(url, claudeRequest('x', { resumeSessionId: 'nope' }), {}, { token: TOKEN }), 404],
      ['get', '/sessions', await request(`${url}/sessions?limit=0`, { token: TOKEN }), 400],
      ['get', '/sessions/{id}', await request(`${url}/sessions/nope`, { token: TOKEN }), 404],
      ['get', '/sessions/{id}', await request(`${url}/sessions/.bad`, { token: TOKEN }), 400],
      ['get', '/sessions/{id}/stream', await getStream(url, 'nope', undefined, { token: TOKEN }), 404],
      ['delete', '/sessions/{id}', await request(`${url}/sessions/nope`, { method: 'DELETE', token: TOKEN }), 404],
      ['post', '/sessions/{id}/abort', await request(`${url}/sessions/nope/abort`, { method: 'POST', token: TOKEN }), 404],
    ];
    if (doc.paths['/abort']) {
      const abort = await request(`${url}/abort`, { method: 'POST', body: { sessionId: 'nope' }, token: TOKEN });
      answers.push(['post', '/abort', abort, 404]);
    }
    for (const [method, path, res, status] of answers) {
      assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
      assertDocumented(method, path, res);
    }
  });
});
