import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { claudeRequest, startRig, type Rig } from '../jobs/helpers.js';
import {
  assertErrorResponse,
  getStream,
  postExecute,
  request,
  type ErrorBodyShape,
  type ExpectedError,
  type WorkerResponse,
} from '../fixtures/sse.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';

// Issue #8: session ids in paths, empty JSON bodies, error messages that name
// their own field, `__proto__` keys, and length limits of free-text fields.

const CREDENTIAL = { claudeAiOauth: { accessToken: 'sk-ant-oat01-VALIDATION-TEST', expiresAt: 4102444800000 } };
const VALID = { userRequest: 'Say hello', codingAssistantProvider: 'claude-code', codingAssistantAuthentication: CREDENTIAL };
/** Refused for its repoUrl, after every schema check: a refusal for another field means that field failed. */
const REFUSED_FOR_REPO = { ...VALID, github: { repoUrl: 'file:///etc' } };
const JSON_TYPE = { 'content-type': 'application/json' };
const INVALID = { status: 400, code: 'VALIDATION_ERROR' };
const NOT_FOUND = { status: 404, code: 'SESSION_NOT_FOUND' };

/** A valid session id of exactly `length` characters. */
const idOfLength = (length: number): string => `id-${length}-`.padEnd(length, 'x');

/** Every route that takes a session id in its path. */
const sessionRoutes = (id: string) =>
  [
    ['GET', `/sessions/${id}`],
    ['GET', `/sessions/${id}/stream`],
    ['DELETE', `/sessions/${id}`],
    ['POST', `/sessions/${id}/abort`],
  ] as const;

describe('request validation (issue #8)', () => {
  let worker: WorkerHandle;

  before(async () => {
    worker = await startWorker({
      // Should validation ever let a request through, the agent fails fast
      // against a closed local port instead of calling a real API.
      env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', OPENAI_BASE_URL: 'http://127.0.0.1:9' },
    });
  });

  after(async () => {
    await worker?.dispose();
  });

  /** If a request was wrongly accepted, drain its stream so the worker is free for the next case. */
  async function drain(res: WorkerResponse): Promise<void> {
    if (res.isStream) await res.events({ timeoutMs: 30_000 }).catch(() => undefined);
  }

  /** POSTs `body` to /execute and returns the error body, after asserting it is a contract error. */
  async function refusal(body: unknown, expected: ExpectedError = INVALID): Promise<ErrorBodyShape> {
    const res = await postExecute(worker.url, body);
    try {
      assertErrorResponse(res, expected);
      return res.json;
    } finally {
      await drain(res);
    }
  }

  describe('session ids in /sessions/:id… paths follow the POST /execute rule', () => {
    it('ids of 101–128 characters reach every route: 404 SESSION_NOT_FOUND, not 414', async () => {
      for (const length of [100, 101, 127, 128]) {
        for (const [method, path] of sessionRoutes(idOfLength(length))) {
          assertErrorResponse(await request(`${worker.url}${path}`, { method }), NOT_FOUND);
        }
      }
    });

    it('ids over 128 characters → the same 400 as any other invalid id, on field sessionId', async () => {
      const reference = await request(`${worker.url}/sessions/.hidden`);
      assertErrorResponse(reference, { ...INVALID, field: 'sessionId', message: /128/ });
      for (const length of [129, 1000]) {
        for (const [method, path] of sessionRoutes(idOfLength(length))) {
          const res = await request(`${worker.url}${path}`, { method });
          assertErrorResponse(res, { ...INVALID, field: 'sessionId' });
          assert.equal(res.json.message, reference.json.message, `${method} ${path.slice(0, 40)}…`);
        }
      }
    });

    it('a malformed %-escape in the path → the contract 400, not Fastify\'s own body', async () => {
      for (const [method, path] of sessionRoutes('%E0%A4%A')) {
        assertErrorResponse(await request(`${worker.url}${path}`, { method }), INVALID);
      }
    });
  });

  describe('an empty body with Content-Type: application/json', () => {
    it('is no body for POST /sessions/:id/abort: 404 for a session not running here, not 400', async () => {
      for (const body of [undefined, '', ' \n']) {
        const res = await request(`${worker.url}/sessions/not-running/abort`, { method: 'POST', headers: JSON_TYPE, body });
        assertErrorResponse(res, NOT_FOUND);
      }
    });

    it('is still refused by POST /execute: 400 VALIDATION_ERROR saying the body is empty', async () => {
      const res = await request(`${worker.url}/execute`, { method: 'POST', headers: JSON_TYPE });
      assertErrorResponse(res, { ...INVALID, message: /empty/ });
      assert.equal(res.json.field, undefined);
    });
  });

  describe('an ill-typed field gets an error naming that field', () => {
    for (const value of [true, [], 123, null]) {
      it(`codingAssistantAuthentication ${JSON.stringify(value)}`, async () => {
        const error = await refusal(
          { ...VALID, codingAssistantAuthentication: value },
          { ...INVALID, field: 'codingAssistantAuthentication', message: /^codingAssistantAuthentication must be a string/ },
        );
        assert.doesNotMatch(error.message, /userRequest|text and image blocks/);
      });
    }

    it('pullRequest "please" names pullRequest and its accepted forms', async () => {
      await refusal(
        { ...REFUSED_FOR_REPO, pullRequest: 'please' },
        { ...INVALID, field: 'pullRequest', message: /^pullRequest must be true, false or an object/ },
      );
    });

    it('pullRequest {draft: "yes"} names pullRequest.draft, not the union', async () => {
      await refusal(
        { ...REFUSED_FOR_REPO, pullRequest: { draft: 'yes' } },
        { ...INVALID, field: 'pullRequest.draft', message: /^pullRequest\.draft must be of type boolean/ },
      );
    });

    it('a missing userRequest "is required"', async () => {
      const expected = { ...INVALID, field: 'userRequest', message: /^userRequest is required$/ };
      await refusal({ ...VALID, userRequest: undefined }, expected);
    });
  });

  describe('keys that could reach a prototype', () => {
    const cases: Array<[string, string, string]> = [
      ['at the top level', '{"__proto__":{"userRequest":"polluted"}}', '__proto__'],
      ['written with escapes', '{"\\u005f\\u005fproto__":{}}', '__proto__'],
      ['inside providerOptions', `{"userRequest":"hi","providerOptions":{"__proto__":{"model":"x"}}}`, 'providerOptions.__proto__'],
      ['inside an array item', '{"userRequest":[{"type":"text","text":"hi","__proto__":{}}]}', 'userRequest.0.__proto__'],
      [
        'constructor.prototype in the credentials',
        '{"codingAssistantAuthentication":{"constructor":{"prototype":{"x":1}}}}',
        'codingAssistantAuthentication.constructor.prototype',
      ],
    ];
    for (const [label, body, field] of cases) {
      it(`${label} → 400 on field ${field}, not "not valid JSON"`, async () => {
        const message = /("__proto__"|"constructor" object with a "prototype") key is not allowed/;
        const error = await refusal(body, { ...INVALID, field, message });
        assert.doesNotMatch(error.message, /not valid JSON/);
        assert.ok(error.message.includes(field), error.message);
      });
    }

    it('a refused "__proto__" body did not pollute the worker: a later body without userRequest still lacks it', async () => {
      await refusal('{"__proto__":{"userRequest":"polluted","codingAssistantProvider":"claude-code"}}');
      await refusal({ ...VALID, userRequest: undefined }, { ...INVALID, field: 'userRequest', message: /is required/ });
    });

    it('"__proto__" inside string values and a "constructor" key holding a string are accepted', async () => {
      await refusal(
        {
          ...REFUSED_FOR_REPO,
          userRequest: 'Explain {"__proto__": {}} and constructor.prototype',
          providerOptions: { constructor: 'not an object' },
        },
        { ...INVALID, field: 'github.repoUrl' },
      );
    });
  });

  describe('github.branch follows git check-ref-format --branch, at most 255 bytes', () => {
    const withBranch = (branch: string) => ({ ...REFUSED_FOR_REPO, github: { repoUrl: 'file:///etc', branch } });
    const gitAccepts = (name: string) =>
      spawnSync('git', ['check-ref-format', '--branch', name], { cwd: tmpdir(), stdio: 'ignore' }).status === 0;

    it('a 100,000-character branch → 400 on github.branch naming the limit', async () => {
      await refusal(withBranch('b'.repeat(100_000)), { ...INVALID, field: 'github.branch', message: /at most 255 bytes/ });
    });

    it('accepts exactly the names git accepts', async () => {
      const names = [
        // git accepts these
        'main', 'feature/über', 'fix#12', 'release+1', 'a@b', '+x', '@a', 'a.b', 'a/b-c_d', 'a{b}', 'a/HEAD',
        'refs/heads/x', 'a'.repeat(250), `${'b'.repeat(250)}/abcd`,
        // and refuses these
        '', 'HEAD', '-x', '-', 'a..b', 'a@{b', 'x.', '.x', 'a/.x', 'a.lock', 'a.lock/b', 'a/b.lock', 'a//b', '/a',
        'a/', 'a b', 'a~b', 'a^b', 'a:b', 'a?b', 'a*b', 'a[b', 'a\\b', 'a\tb', 'a\x7fb', '..', '.', 'a.b.',
      ];
      for (const name of names) {
        const error = await refusal(withBranch(name));
        const accepted = error.field !== 'github.branch';
        assert.equal(accepted, gitAccepts(name), `${JSON.stringify(name)}: ${error.message}`);
      }
    });

    it('refuses, beyond git, names that git cannot create or that mean HEAD', async () => {
      const names = [
        `${'b'.repeat(251)}`, // a part of 251 bytes: git cannot create "<part>.lock" (NAME_MAX 255)
        `${'b'.repeat(250)}/abcde`, // 256 bytes
        `${'ü'.repeat(100)}/${'ü'.repeat(28)}`, // 128 characters, 257 bytes
        '@',
      ];
      for (const name of names) await refusal(withBranch(name), { ...INVALID, field: 'github.branch' });
    });

    it('pullRequest.base follows the same rules', async () => {
      const withBase = (base: string) => ({ ...REFUSED_FOR_REPO, pullRequest: { base } });
      await refusal(withBase('release/1.x'), { ...INVALID, field: 'github.repoUrl' });
      await refusal(withBase('a..b'), { ...INVALID, field: 'pullRequest.base' });
      await refusal(withBase('b'.repeat(256)), { ...INVALID, field: 'pullRequest.base', message: /at most 255 bytes/ });
    });
  });

  describe('length limits of free-text fields', () => {
    /** Each case: the field, its limit, and the body's part that carries a value. */
    const cases: Array<{ field: string; limit: number; part: (value: string) => Record<string, unknown> }> = [
      { field: 'github.accessToken', limit: 4096, part: (v) => ({ github: { repoUrl: 'file:///etc', accessToken: v } }) },
      { field: 'providerOptions.model', limit: 256, part: (v) => ({ providerOptions: { model: v } }) },
      { field: 'pullRequest.title', limit: 256, part: (v) => ({ pullRequest: { title: v } }) },
      { field: 'pullRequest.body', limit: 65_536, part: (v) => ({ pullRequest: { body: v } }) },
      { field: 'database.sessionId', limit: 256, part: (v) => ({ database: { sessionId: v, accessToken: 't' } }) },
      { field: 'database.accessToken', limit: 4096, part: (v) => ({ database: { accessToken: v } }) },
    ];
    for (const { field, limit, part } of cases) {
      const body = (value: string) => ({ ...REFUSED_FOR_REPO, ...part(value) });
      it(`${field}: ${limit} characters pass, ${limit + 1} → 400 on ${field}`, async () => {
        await refusal(body('x'.repeat(limit)), { ...INVALID, field: 'github.repoUrl' });
        await refusal(body('x'.repeat(limit + 1)), { ...INVALID, field, message: new RegExp(`at most ${limit} characters`) });
      });
    }

    it('codingAssistantProvider: 100 characters are looked up, 101 → 400 naming the limit', async () => {
      await refusal({ ...VALID, codingAssistantProvider: 'p'.repeat(100) }, { ...INVALID, message: /^Unknown provider/ });
      await refusal(
        { ...VALID, codingAssistantProvider: 'p'.repeat(101) },
        { ...INVALID, field: 'codingAssistantProvider', message: /at most 100 characters/ },
      );
    });

    it('github.repoUrl: 2048 characters are checked against the allowed prefixes, 2049 → 400 naming the limit', async () => {
      const url = (length: number) => 'https://example.invalid/'.padEnd(length, 'x');
      const atLimit = await refusal({ ...VALID, github: { repoUrl: url(2048) } }, { ...INVALID, field: 'github.repoUrl' });
      assert.doesNotMatch(atLimit.message, /at most/);
      const overLimit = { ...INVALID, field: 'github.repoUrl', message: /at most 2048 characters/ };
      await refusal({ ...VALID, github: { repoUrl: url(2049) } }, overLimit);
    });

    it('github.directory: at most 1024 bytes, each part at most 255 bytes', async () => {
      const withDirectory = (directory: string) => ({ ...REFUSED_FOR_REPO, github: { repoUrl: 'file:///etc', directory } });
      const atLimit = `${'d'.repeat(255)}/`.repeat(4); // 1024 bytes
      await refusal(withDirectory(atLimit), { ...INVALID, field: 'github.repoUrl' });
      await refusal(withDirectory(`${atLimit}d`), { ...INVALID, field: 'github.directory', message: /at most 1024 bytes/ });
      await refusal(withDirectory(`src/${'d'.repeat(256)}`), { ...INVALID, field: 'github.directory', message: /255 bytes/ });
      // Bytes, not characters: 128 two-byte characters make a 256-byte part.
      await refusal(withDirectory('ü'.repeat(128)), { ...INVALID, field: 'github.directory', message: /255 bytes/ });
    });
  });

  describe('afterwards', () => {
    it('no session was created', async () => {
      const res = await request(`${worker.url}/sessions`);
      assert.deepEqual(res.json, { count: 0, sessions: [] });
    });
  });
});

describe('a session with a 128-character id works on every /sessions/:id route (issue #8)', () => {
  const id = idOfLength(128);
  let rig: Rig;

  before(async () => {
    // The model thinks for a minute, so the job is still running when it is aborted.
    rig = await startRig(() => ({ type: 'text', text: 'Finally done.', delayMs: 60_000 }));
  });

  after(async () => {
    await rig?.close();
  });

  it('POST /execute, GET, abort with an empty JSON body, replay, DELETE', async () => {
    const url = rig.worker.url;
    const job = await postExecute(url, claudeRequest('Think for a long time', { websiteSessionId: id }));
    assert.equal(job.status, 200, job.text);
    assert.equal(job.headers.get('x-session-id'), id);
    const reading = job.events({ timeoutMs: 30_000 });
    await rig.fake.waitForMainRequest(1);

    const running = await request(`${url}/sessions/${id}`);
    assert.equal(running.status, 200, running.text);
    assert.equal((running.json as Record<string, unknown>).running, true);

    const abort = await request(`${url}/sessions/${id}/abort`, { method: 'POST', headers: JSON_TYPE });
    assert.equal(abort.status, 200, abort.text);
    assert.deepEqual(abort.json, { sessionId: id, aborted: true });
    const live = await reading;
    assert.equal(live.at(-1)!.data.code, 'ABORTED');

    const replay = await getStream(url, id);
    assert.equal(replay.status, 200, replay.text);
    const replayed = await replay.events({ timeoutMs: 30_000 });
    assert.deepEqual(
      replayed.map((event) => event.id),
      live.map((event) => event.id),
    );
    assert.equal(replayed[0]!.data.sessionId, id);

    const deleted = await request(`${url}/sessions/${id}`, { method: 'DELETE' });
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual(deleted.json, { sessionId: id, deleted: true });
    assertErrorResponse(await request(`${url}/sessions/${id}`), NOT_FOUND);
  });
});

describe('with WORKER_API_TOKEN, authentication comes before the session id check (issue #8)', () => {
  const token = 'validation-test-token';
  let worker: WorkerHandle;

  before(async () => {
    worker = await startWorker({ env: { WORKER_API_TOKEN: token } });
  });

  after(async () => {
    await worker?.dispose();
  });

  it('an over-long id gets 401 without the token and 400 with it', async () => {
    const path = `/sessions/${idOfLength(129)}`;
    assertErrorResponse(await request(`${worker.url}${path}`), { status: 401, code: 'UNAUTHORIZED' });
    assertErrorResponse(await request(`${worker.url}${path}`, { token }), { ...INVALID, field: 'sessionId' });
  });
});
