import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertErrorResponse, postExecute, request, type ExpectedError, type WorkerResponse } from '../fixtures/sse.js';
import { makeTempDir, type TempDir } from '../fixtures/temp.js';
import { startWorker, type WorkerHandle } from '../fixtures/worker.js';

const ACCESS_TOKEN = `sk-ant-oat01-TESTSECRET-${randomBytes(16).toString('hex')}`;
const REFRESH_TOKEN = `sk-ant-ort01-TESTREFRESH-${randomBytes(16).toString('hex')}`;
const GITHUB_TOKEN = `ghp_TESTSECRET${randomBytes(12).toString('hex')}`;
const API_KEY = `sk-ant-api03-TESTSECRET-${randomBytes(16).toString('hex')}`;
const SECRETS = [ACCESS_TOKEN, REFRESH_TOKEN, GITHUB_TOKEN, API_KEY];

const CREDENTIAL = { claudeAiOauth: { accessToken: ACCESS_TOKEN, refreshToken: REFRESH_TOKEN, expiresAt: 4102444800000 } };
/** A request that is valid in every field; each case breaks exactly one thing. */
const VALID = { userRequest: 'Say hello', codingAssistantProvider: 'claude-code', codingAssistantAuthentication: CREDENTIAL };
const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const MAX_REQUEST_BYTES = 2048;

describe('invalid requests are refused before any stream starts', () => {
  let worker: WorkerHandle;
  let root: TempDir;

  before(async () => {
    // SESSIONS_DIR sits inside `root` so a path-traversing id would reach the
    // decoy "victim" session files next to it.
    root = await makeTempDir('acw-bad-input');
    const sessions = join(root.path, 'sessions');
    await mkdir(sessions);
    await mkdir(join(root.path, 'victim'));
    await writeFile(join(root.path, 'victim', 'metadata.json'), '{"sessionId":"victim"}');
    await writeFile(join(root.path, 'victim.json'), '{"sessionId":"victim"}');
    await writeFile(join(root.path, 'victim.tar.gz'), 'not really');
    worker = await startWorker({
      dirs: { sessions },
      env: {
        MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES),
        // Should validation ever let a request through, the agent fails fast
        // against a closed local port instead of calling a real API.
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
        OPENAI_BASE_URL: 'http://127.0.0.1:9',
      },
    });
  });

  after(async () => {
    await worker?.dispose();
    await root?.remove();
  });

  async function assertIdle(): Promise<void> {
    const res = await request(`${worker.url}/status`);
    assert.equal(res.status, 200, `GET /status: ${res.status} ${res.text}`);
    assert.equal((res.json as Record<string, unknown>).status, 'idle');
  }

  /** If a request was wrongly accepted, drain its stream so the worker is free for the next case. */
  async function drain(res: WorkerResponse): Promise<void> {
    if (res.isStream) await res.events({ timeoutMs: 30_000 }).catch(() => undefined);
  }

  async function expectRefused(body: unknown, expected: ExpectedError, headers?: Record<string, string>): Promise<void> {
    const res = await postExecute(worker.url, body, headers);
    try {
      assertErrorResponse(res, expected);
      assert.equal(res.headers.get('x-session-id'), null, 'a refused request must not name a session');
      for (const secret of SECRETS) assert.ok(!res.text.includes(secret), 'the error answer echoes a credential');
    } finally {
      await drain(res);
    }
    await assertIdle();
  }

  const without = (key: keyof typeof VALID): Record<string, unknown> => {
    const copy: Record<string, unknown> = { ...VALID };
    delete copy[key];
    return copy;
  };

  it('GET /sessions on a fresh store → {count:0, sessions:[]}', async () => {
    const res = await request(`${worker.url}/sessions`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { count: 0, sessions: [] });
  });

  describe('userRequest', () => {
    const bad = (userRequest: unknown) => ({ ...VALID, userRequest });
    const field = { status: 400, code: 'VALIDATION_ERROR' };

    it('missing', () => expectRefused(without('userRequest'), { ...field, field: 'userRequest' }));
    it('empty string', () => expectRefused(bad(''), { ...field, field: 'userRequest' }));
    it('a number', () => expectRefused(bad(42), { ...field, field: 'userRequest' }));
    it('an object', () => expectRefused(bad({ text: 'hi' }), { ...field, field: 'userRequest' }));
    it('null', () => expectRefused(bad(null), { ...field, field: 'userRequest' }));
    it('an empty array', () => expectRefused(bad([]), { ...field, field: 'userRequest' }));
    it('an array with an unknown block type', () =>
      expectRefused(bad([{ type: 'text', text: 'hi' }, { type: 'audio', data: 'x' }]), {
        ...field,
        field: /^userRequest/,
      }));
    it('a text block without text', () => expectRefused(bad([{ type: 'text' }]), { ...field, field: /^userRequest/ }));
    it('an image with media_type image/bmp', () =>
      expectRefused(bad([{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: PNG_1X1 } }]), {
        ...field,
        field: /^userRequest/,
      }));
    it('an image whose data is not base64', () =>
      expectRefused(
        bad([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: '***notbase64***' } }]),
        { ...field, field: /^userRequest/ },
      ));
    it('an image with a url source instead of base64', () =>
      expectRefused(bad([{ type: 'image', source: { type: 'url', url: 'http://127.0.0.1:9/x.png' } }]), {
        ...field,
        field: /^userRequest/,
      }));
  });

  describe('codingAssistantProvider (no CODING_ASSISTANT_PROVIDER env)', () => {
    const field = { status: 400, code: 'VALIDATION_ERROR', field: 'codingAssistantProvider' };

    it('missing', () => expectRefused(without('codingAssistantProvider'), field));
    it('unknown: gpt-pilot', () => expectRefused({ ...VALID, codingAssistantProvider: 'gpt-pilot' }, field));
    it('FROM_ENV with no env default', () => expectRefused({ ...VALID, codingAssistantProvider: 'FROM_ENV' }, field));
    it('unknown, with an API key as the credential', () =>
      expectRefused({ ...VALID, codingAssistantProvider: 'gpt-pilot', codingAssistantAuthentication: API_KEY }, field));
    it('not a string', () => expectRefused({ ...VALID, codingAssistantProvider: 7 }, field));
  });

  describe('provider names the contract accepts are not refused as unknown', () => {
    // Each request is refused for its repoUrl, so no job runs; the point is
    // that the refusal is not about the provider name.
    for (const [provider, credential] of [
      ['ClaudeAgentSDK', CREDENTIAL],
      ['claude-code', CREDENTIAL],
      ['claude', CREDENTIAL],
      ['CLAUDE-CODE', CREDENTIAL],
      ['claudeagentsdk', CREDENTIAL],
      ['CodexSDK', API_KEY],
      ['codex', API_KEY],
    ] as const) {
      it(provider, async () => {
        const res = await postExecute(worker.url, {
          ...VALID,
          codingAssistantProvider: provider,
          codingAssistantAuthentication: credential,
          github: { repoUrl: 'file:///etc' },
        });
        try {
          assertErrorResponse(res, { status: 400, code: 'VALIDATION_ERROR' });
          assert.notEqual(res.json.field, 'codingAssistantProvider', `${provider} refused: ${res.text}`);
        } finally {
          await drain(res);
        }
      });
    }
  });

  describe('codingAssistantAuthentication (no env default)', () => {
    const field = { status: 400, code: 'VALIDATION_ERROR' };

    it('missing', () =>
      expectRefused(without('codingAssistantAuthentication'), { ...field, field: 'codingAssistantAuthentication' }));
    it('FROM_ENV with no env default', () =>
      expectRefused(
        { ...VALID, codingAssistantAuthentication: 'FROM_ENV' },
        { ...field, field: 'codingAssistantAuthentication' },
      ));
    it('malformed credentials JSON string', () =>
      expectRefused(
        { ...VALID, codingAssistantAuthentication: '{"claudeAiOauth": ' },
        { ...field, field: /^codingAssistantAuthentication/ },
      ));
    it('claudeAiOauth without accessToken', () =>
      expectRefused(
        { ...VALID, codingAssistantAuthentication: { claudeAiOauth: { refreshToken: REFRESH_TOKEN } } },
        { ...field, field: /^codingAssistantAuthentication/ },
      ));
    it('claudeAiOauth without accessToken, as a JSON string', () =>
      expectRefused(
        { ...VALID, codingAssistantAuthentication: JSON.stringify({ claudeAiOauth: { refreshToken: REFRESH_TOKEN } }) },
        { ...field, field: /^codingAssistantAuthentication/ },
      ));
    it('empty string', () =>
      expectRefused({ ...VALID, codingAssistantAuthentication: '' }, { ...field, field: /^codingAssistantAuthentication/ }));
  });

  describe('session ids', () => {
    const field = (name: string) => ({ status: 400, code: 'VALIDATION_ERROR', field: name });

    it('websiteSessionId "../x"', () => expectRefused({ ...VALID, websiteSessionId: '../x' }, field('websiteSessionId')));
    it('websiteSessionId "../victim"', () =>
      expectRefused({ ...VALID, websiteSessionId: '../victim' }, field('websiteSessionId')));
    it('websiteSessionId of 129 chars', () =>
      expectRefused({ ...VALID, websiteSessionId: 'a'.repeat(129) }, field('websiteSessionId')));
    it('websiteSessionId starting with "."', () =>
      expectRefused({ ...VALID, websiteSessionId: '.hidden' }, field('websiteSessionId')));
    it('websiteSessionId empty', () => expectRefused({ ...VALID, websiteSessionId: '' }, field('websiteSessionId')));
    it('websiteSessionId with a slash or a space', async () => {
      await expectRefused({ ...VALID, websiteSessionId: 'a/b' }, field('websiteSessionId'));
      await expectRefused({ ...VALID, websiteSessionId: 'a b' }, field('websiteSessionId'));
    });
    it('websiteSessionId not a string', () => expectRefused({ ...VALID, websiteSessionId: 12 }, field('websiteSessionId')));
    it('resumeSessionId "../victim"', () =>
      expectRefused({ ...VALID, resumeSessionId: '../victim' }, field('resumeSessionId')));
    it('resumeSessionId unknown → 404 SESSION_NOT_FOUND', () =>
      expectRefused({ ...VALID, resumeSessionId: 'no-such-session-123' }, { status: 404, code: 'SESSION_NOT_FOUND' }));
  });

  describe('github', () => {
    const field = { status: 400, code: 'VALIDATION_ERROR', field: 'github.repoUrl' };
    const withRepo = (repoUrl: unknown) => ({ ...VALID, github: { repoUrl, accessToken: GITHUB_TOKEN } });

    it('repoUrl file:///etc', () => expectRefused(withRepo('file:///etc'), field));
    it('repoUrl ssh://host/x', () => expectRefused(withRepo('ssh://host/x'), field));
    it('repoUrl https://evil.example.com/x.git', () => expectRefused(withRepo('https://evil.example.com/x.git'), field));
    it('repoUrl that only looks like github.com', async () => {
      await expectRefused(withRepo('https://github.com.evil.example.com/x.git'), field);
      await expectRefused(withRepo('https://github.com@evil.example.com/x.git'), field);
    });
    it('repoUrl a near miss of the default https://github.com/ (issue #8)', async () => {
      await expectRefused(withRepo('http://github.com/acme/x.git'), field);
      await expectRefused(withRepo('https://github.com:8443/acme/x.git'), field);
      await expectRefused(withRepo('https://github.com.evil.tld/acme/x.git'), field);
      await expectRefused(withRepo('https://github.com/acme/x.git?upload-pack=touch'), field);
    });
    it('repoUrl missing', () => expectRefused({ ...VALID, github: { branch: 'main' } }, field));
    it('repoUrl not a string', () => expectRefused(withRepo(5), field));
    it('github not an object', () =>
      expectRefused({ ...VALID, github: 'https://github.com/a/b' }, { status: 400, code: 'VALIDATION_ERROR', field: 'github' }));
  });

  describe('other fields', () => {
    const field = (name: string) => ({ status: 400, code: 'VALIDATION_ERROR', field: name });

    it('providerOptions a string', () => expectRefused({ ...VALID, providerOptions: 'fast' }, field('providerOptions')));
    it('providerOptions an array', () => expectRefused({ ...VALID, providerOptions: [1] }, field('providerOptions')));
    it('providerOptions.maxTurns negative', () =>
      expectRefused({ ...VALID, providerOptions: { maxTurns: -1 } }, field('providerOptions.maxTurns')));
    it('providerOptions.maxTurns not an integer', () =>
      expectRefused({ ...VALID, providerOptions: { maxTurns: 1.5 } }, field('providerOptions.maxTurns')));
    it('autoCommit not a boolean', () =>
      expectRefused({ ...VALID, autoCommit: 'yes' }, field('autoCommit')));
    it('pullRequest neither true nor an object', () =>
      expectRefused({ ...VALID, pullRequest: 'please' }, field('pullRequest')));
  });

  describe('the body itself', () => {
    const invalid = { status: 400, code: 'VALIDATION_ERROR' };

    it('not JSON', () => expectRefused('{bad', invalid));
    it('not JSON, with a credential just before the syntax error', () =>
      expectRefused(`{"userRequest":"hi","codingAssistantAuthentication":"${API_KEY}",bad}`, invalid));
    it('truncated JSON ending in a credential', () =>
      expectRefused(`{"userRequest":"hi","codingAssistantAuthentication":"${API_KEY}`, invalid));
    it('a JSON array', () => expectRefused('[]', invalid));
    it('a JSON string', () => expectRefused('"hello"', invalid));
    it('JSON null', () => expectRefused('null', invalid));
    it('an empty body with a JSON content-type', async () => {
      const res = await request(`${worker.url}/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      assertErrorResponse(res, invalid);
      await assertIdle();
    });
    it('content-type text/plain → 400 or 415', async () => {
      const res = await postExecute(worker.url, JSON.stringify(VALID), { 'content-type': 'text/plain' });
      try {
        assertErrorResponse(res, { status: [400, 415] });
        assert.equal(res.json.code, res.status === 400 ? 'VALIDATION_ERROR' : 'UNSUPPORTED_MEDIA_TYPE');
      } finally {
        await drain(res);
      }
      await assertIdle();
    });
    it(`a body over MAX_REQUEST_BYTES (${MAX_REQUEST_BYTES}) → 413 PAYLOAD_TOO_LARGE`, () =>
      expectRefused({ ...VALID, userRequest: 'x'.repeat(10 * 1024) }, { status: 413, code: 'PAYLOAD_TOO_LARGE' }));

    it('a chunked body (no Content-Length) over MAX_REQUEST_BYTES → 413 PAYLOAD_TOO_LARGE', async () => {
      // node:http rather than fetch: the worker may answer and close before the
      // upload is finished, and fetch then reports only "fetch failed". So send
      // past the limit without ending the body, and wait for the answer.
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(`${worker.url}/execute`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, text });
            req.destroy();
          });
        });
        req.write(`{"userRequest":"${'x'.repeat(1024)}`);
        for (let i = 0; i < 3; i += 1) req.write('x'.repeat(1024));
        const timer = setTimeout(() => reject(new Error('no answer to an over-limit chunked body')), 10_000);
        req.on('close', () => clearTimeout(timer));
      });
      assert.equal(answer.status, 413, answer.text);
      assert.equal((JSON.parse(answer.text) as Record<string, unknown>).code, 'PAYLOAD_TOO_LARGE');
      await assertIdle();
    });
  });

  describe('session endpoints with unknown or hostile ids', () => {
    const notFound = { status: 404, code: 'SESSION_NOT_FOUND' };

    it('GET /sessions/<unknown> → 404 SESSION_NOT_FOUND', async () => {
      assertErrorResponse(await request(`${worker.url}/sessions/no-such-session`), notFound);
    });
    it('DELETE /sessions/<unknown> → 404 SESSION_NOT_FOUND', async () => {
      assertErrorResponse(await request(`${worker.url}/sessions/no-such-session`, { method: 'DELETE' }), notFound);
    });
    it('POST /sessions/<unknown>/abort → 404', async () => {
      assertErrorResponse(await request(`${worker.url}/sessions/no-such-session/abort`, { method: 'POST' }), notFound);
    });
    it('GET /sessions/<unknown>/stream → 404, not a stream', async () => {
      assertErrorResponse(await request(`${worker.url}/sessions/no-such-session/stream`), notFound);
    });
    it('GET /sessions/..%2Fx → 400 or 404', async () => {
      assertErrorResponse(await request(`${worker.url}/sessions/..%2Fx`), { status: [400, 404] });
    });
    it('ids escaping SESSIONS_DIR reach nothing outside it', async () => {
      const hostile = ['..%2Fvictim', '..%2F..%2Fvictim', '%2E%2E%2Fvictim', '..%5Cvictim'];
      for (const id of hostile) {
        assertErrorResponse(await request(`${worker.url}/sessions/${id}`), { status: [400, 404] });
        assertErrorResponse(await request(`${worker.url}/sessions/${id}/stream`), { status: [400, 404] });
        assertErrorResponse(await request(`${worker.url}/sessions/${id}`, { method: 'DELETE' }), { status: [400, 404] });
        assertErrorResponse(await request(`${worker.url}/sessions/${id}/abort`, { method: 'POST' }), {
          status: [400, 404],
        });
      }
      assert.ok(existsSync(join(root.path, 'victim', 'metadata.json')), 'victim/ was deleted');
      assert.ok(existsSync(join(root.path, 'victim.json')), 'victim.json was deleted');
      assert.ok(existsSync(join(root.path, 'victim.tar.gz')), 'victim.tar.gz was deleted');
    });
  });

  describe('afterwards', () => {
    it('the worker is idle and no session was created', async () => {
      await assertIdle();
      const res = await request(`${worker.url}/sessions`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { count: 0, sessions: [] });
    });

    it('no credential sent in a request appears in the logs', () => {
      const logs = worker.logs();
      assert.ok(logs.length > 0, 'no logs captured');
      for (const secret of SECRETS) assert.ok(!logs.includes(secret), `${secret.slice(0, 16)}… appears in the logs`);
    });
  });
});
