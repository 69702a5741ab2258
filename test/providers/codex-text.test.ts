import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { codexProvider } from '../../src/providers/codex.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fixtures/fake-openai.js';

const API_KEY = 'sk-proj-CODEXTEXT-0123456789abcdef';

/** The short LLM call behind session titles, branch names and commit messages (issue #3), with Codex credentials. */
describe('Codex generateText', () => {
  let fake: FakeOpenAI;

  before(async () => {
    fake = await startFakeOpenAI([
      { type: 'text', text: '{"title": "Add a CSV parser", "slug": "add-csv-parser"}' },
      { type: 'failed', message: 'model overloaded' },
    ]);
  });

  after(async () => {
    await fake.close();
  });

  const call = (credentials: unknown) =>
    codexProvider.generateText!({
      prompt: 'Name this session: add a CSV parser',
      credentials: codexProvider.parseCredentials(credentials),
      env: { OPENAI_BASE_URL: fake.url },
      signal: AbortSignal.timeout(10_000),
    });

  it('asks the Responses API at OPENAI_BASE_URL with the request’s API key and returns the text', async () => {
    const text = await call(API_KEY);
    assert.equal(text, '{"title": "Add a CSV parser", "slug": "add-csv-parser"}');
    const request = fake.mainRequests()[0]!;
    assert.equal(request.path, '/v1/responses');
    assert.equal(request.auth.bearer, API_KEY);
    assert.equal(request.body.input, 'Name this session: add a CSV parser');
  });

  it('rejects when the model fails, so the caller falls back', async () => {
    await assert.rejects(call(API_KEY), /model overloaded/);
  });

  it('rejects ChatGPT sign-in credentials without calling anything', async () => {
    const before = fake.requests.length;
    await assert.rejects(
      call({ tokens: { id_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig', access_token: 'access-token-value', refresh_token: 'refresh-token-value', account_id: 'acct' } }),
      /ChatGPT/,
    );
    assert.equal(fake.requests.length, before);
  });
});
