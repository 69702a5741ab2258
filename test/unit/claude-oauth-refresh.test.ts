import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CLAUDE_CODE_OAUTH_CLIENT_ID,
  ClaudeOauthRefreshError,
  DEFAULT_CLAUDE_OAUTH_TOKEN_URL,
  refreshClaudeOauth,
} from '../../src/model-proxy/claude-oauth-refresh.js';
import type { ClaudeOauth } from '../../src/providers/claude-credentials.js';
import { startFakeOauth, type FakeOauth } from '../fixtures/fake-oauth.js';

/** The scope string Claude Code 2.1.332 sent for a `["user:inference","user:profile"]` login (captured). */
const CAPTURED_SCOPE = 'user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins';

function login(fake: FakeOauth, extra: Partial<ClaudeOauth> = {}): ClaudeOauth {
  return {
    accessToken: 'sk-ant-oat01-expired-OLDACCESS',
    refreshToken: fake.refreshToken,
    expiresAt: Date.now() - 60_000,
    scopes: ['user:inference', 'user:profile'],
    ...extra,
  };
}

const noAbort = (): AbortSignal => new AbortController().signal;

async function refreshError(promise: Promise<unknown>): Promise<ClaudeOauthRefreshError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ClaudeOauthRefreshError, `expected a ClaudeOauthRefreshError, got ${String(err)}`);
    return err;
  }
  assert.fail('the refresh succeeded');
}

function assertNoToken(message: string, tokens: Array<string | undefined>): void {
  for (const token of tokens) if (token) assert.ok(!message.includes(token), `message leaks a token: ${message}`);
  assert.ok(!/sk-ant-o[ar]t01/.test(message), `message leaks a token: ${message}`);
}

describe('refreshing a Claude OAuth login (issue #12)', () => {
  let fake: FakeOauth;
  before(async () => {
    fake = await startFakeOauth();
  });
  after(() => fake.close());

  it("uses Claude Code's production endpoint and client id by default", () => {
    assert.equal(DEFAULT_CLAUDE_OAUTH_TOKEN_URL, 'https://platform.claude.com/v1/oauth/token');
    assert.equal(CLAUDE_CODE_OAUTH_CLIENT_ID, '9d1c250a-e61b-44d9-88ed-5944d1962f5e');
  });

  it('returns a new login with rotated tokens, keeping what the reply does not replace', async () => {
    const oldRefresh = fake.refreshToken;
    const old = login(fake, { subscriptionType: 'max', rateLimitTier: 'default_claude_max_20x' });
    const before = Date.now();
    const next = await refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: old, signal: noAbort() });

    assert.equal(next.accessToken, fake.accessToken);
    assert.notEqual(next.accessToken, old.accessToken);
    assert.equal(next.refreshToken, fake.refreshToken);
    assert.notEqual(next.refreshToken, oldRefresh, 'the refresh token rotates');
    assert.ok(fake.spentRefreshTokens.has(oldRefresh));
    assert.ok(next.expiresAt! >= before + 28_800_000 && next.expiresAt! <= Date.now() + 28_800_000);
    assert.deepEqual(next.scopes, CAPTURED_SCOPE.split(' '), 'scopes come from the reply');
    assert.equal(next.subscriptionType, 'max');
    assert.equal(next.rateLimitTier, 'default_claude_max_20x');
    assert.equal(old.accessToken, 'sk-ant-oat01-expired-OLDACCESS', 'the old login is not changed');

    // The new login refreshes again, and rotates again.
    const third = await refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: next, signal: noAbort() });
    assert.equal(third.refreshToken, fake.refreshToken);
    assert.notEqual(third.refreshToken, next.refreshToken);
  });

  it('sends exactly the request the claude binary sends', async () => {
    const sent = fake.requests.length;
    await refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: login(fake), signal: noAbort() });
    const request = fake.requests[sent]!;
    assert.deepEqual(request.shapeProblems, []);
    assert.equal(request.method, 'POST');
    // The binary's headers (axios), in its order, and nothing more.
    assert.deepEqual(Object.keys(request.headers), ['accept', 'content-type', 'user-agent', 'content-length', 'accept-encoding', 'host', 'connection']);
    assert.equal(request.headers['accept-encoding'], 'gzip, compress, deflate, br');
    assert.equal(request.headers.connection, 'close');
    assert.equal(request.path, '/v1/oauth/token');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers.accept, 'application/json, text/plain, */*');
    assert.equal(request.headers['user-agent'], 'axios/1.15.2');
    assert.equal(request.headers.authorization, undefined, 'the refresh carries no bearer');
    assert.deepEqual(Object.keys(request.body), ['grant_type', 'refresh_token', 'client_id', 'scope']);
    assert.equal(request.body.grant_type, 'refresh_token');
    assert.equal(request.body.client_id, CLAUDE_CODE_OAUTH_CLIENT_ID);
    assert.equal(request.body.scope, CAPTURED_SCOPE);
  });

  it('sends, byte for byte, the body captured from the binary for the same login', async () => {
    await using captured = await startFakeOauth({ refreshToken: 'sk-ant-ort01-OLDREFRESH' });
    await refreshClaudeOauth({
      tokenUrl: captured.tokenUrl,
      oauth: { accessToken: 'sk-ant-oat01-OLDACCESS', refreshToken: 'sk-ant-ort01-OLDREFRESH', expiresAt: 0, scopes: ['user:inference', 'user:profile'] },
      signal: noAbort(),
    });
    assert.equal(
      captured.requests[0]!.rawBody,
      `{"grant_type":"refresh_token","refresh_token":"sk-ant-ort01-OLDREFRESH","client_id":"9d1c250a-e61b-44d9-88ed-5944d1962f5e","scope":"${CAPTURED_SCOPE}"}`,
    );
  });

  it('asks for the optional scopes a login already has, and only for its own scopes under its own client id', async () => {
    const sent = fake.requests.length;
    await refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: login(fake, { scopes: ['user:inference', 'user:projects:read'] }), signal: noAbort() });
    assert.equal(fake.requests[sent]!.body.scope, `${CAPTURED_SCOPE} user:projects:read`);

    const clientId = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    await using own = await startFakeOauth({ clientId });
    await refreshClaudeOauth({ tokenUrl: own.tokenUrl, oauth: login(own, { clientId, scopes: ['user:inference'] }), signal: noAbort() });
    assert.deepEqual(own.requests[0]!.shapeProblems, []);
    assert.equal(own.requests[0]!.body.client_id, clientId);
    assert.equal(own.requests[0]!.body.scope, 'user:inference');
  });

  it("asks again for the login's own scopes when the endpoint refuses the wider set (invalid_scope)", async () => {
    await using narrow = await startFakeOauth({ refusedScopes: ['user:plugins'] });
    const next = await refreshClaudeOauth({ tokenUrl: narrow.tokenUrl, oauth: login(narrow), signal: noAbort() });
    assert.equal(narrow.requests.length, 2);
    assert.equal(narrow.requests[0]!.body.scope, CAPTURED_SCOPE);
    assert.equal(narrow.requests[1]!.body.scope, 'user:inference user:profile');
    assert.equal(next.accessToken, narrow.accessToken);
    assert.deepEqual(next.scopes, ['user:inference', 'user:profile']);
  });

  it('reads a compressed reply (gzip, br), as axios does', async () => {
    for (const compress of ['gzip', 'br'] as const) {
      await using packed = await startFakeOauth({ compress });
      const next = await refreshClaudeOauth({ tokenUrl: packed.tokenUrl, oauth: login(packed), signal: noAbort() });
      assert.equal(next.accessToken, packed.accessToken);
      packed.overrideNext({ status: 400, body: { error: 'invalid_grant', error_description: 'Refresh token not found or invalid' } });
      const err = await refreshError(refreshClaudeOauth({ tokenUrl: packed.tokenUrl, oauth: next, signal: noAbort() }));
      assert.equal(err.oauthError, 'invalid_grant');
    }
  });

  it('fails with invalid_grant when a spent refresh token is used again, naming no token', async () => {
    const old = login(fake);
    const next = await refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: old, signal: noAbort() });
    const err = await refreshError(refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: old, signal: noAbort() }));
    assert.equal(err.reason, 'rejected');
    assert.equal(err.status, 400);
    assert.equal(err.oauthError, 'invalid_grant');
    assert.equal(err.transient, false);
    assert.match(err.message, /400/);
    assert.match(err.message, /invalid_grant/);
    assertNoToken(err.message, [old.accessToken, old.refreshToken, next.accessToken, next.refreshToken]);
  });

  it('fails on a server error, transiently, and keeps tokens an endpoint echoes out of the message', async () => {
    const old = login(fake);
    fake.overrideNext({ status: 500, body: { error: 'server_error', error_description: `could not refresh ${old.refreshToken}` } });
    const err = await refreshError(refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: old, signal: noAbort() }));
    assert.equal(err.status, 500);
    assert.equal(err.transient, true);
    assert.match(err.message, /500 \(server_error: could not refresh \[REDACTED\]\)/);
    assertNoToken(err.message, [old.accessToken, old.refreshToken]);

    fake.overrideNext({ status: 502, body: '<html>bad gateway</html>' });
    const html = await refreshError(refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: old, signal: noAbort() }));
    assert.equal(html.status, 502);
    assert.match(html.message, /answered 502\.$/);
    assert.equal(fake.refreshToken, old.refreshToken, 'a failed refresh spends nothing');
  });

  it('fails when the reply has no access token', async () => {
    fake.overrideNext({ status: 200, body: { token_type: 'Bearer', expires_in: 3600 } });
    const err = await refreshError(refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: login(fake), signal: noAbort() }));
    assert.equal(err.reason, 'malformed');
  });

  it('times out, and stops when aborted', async () => {
    fake.overrideNext({ delayMs: 10_000 });
    const started = Date.now();
    const timedOut = await refreshError(refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: login(fake), signal: noAbort(), timeoutMs: 200 }));
    assert.equal(timedOut.reason, 'timeout');
    assert.equal(timedOut.transient, true);
    assert.ok(Date.now() - started < 5_000);

    fake.overrideNext({ delayMs: 10_000 });
    const controller = new AbortController();
    const sent = fake.requests.length;
    const pending = refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: login(fake), signal: controller.signal });
    await fake.waitForRequest(sent + 1, 5_000);
    controller.abort();
    const aborted = await refreshError(pending);
    assert.equal(aborted.reason, 'aborted');
  });

  it('fails when the endpoint cannot be reached', async () => {
    const gone = await startFakeOauth();
    const { tokenUrl } = gone;
    await gone.close();
    const err = await refreshError(refreshClaudeOauth({ tokenUrl, oauth: login(gone), signal: noAbort() }));
    assert.equal(err.reason, 'network');
    assert.equal(err.transient, true);
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('fails without a request when the login has no refresh token', async () => {
    const sent = fake.requests.length;
    const { refreshToken: _none, ...rest } = login(fake);
    const err = await refreshError(refreshClaudeOauth({ tokenUrl: fake.tokenUrl, oauth: rest, signal: noAbort() }));
    assert.equal(err.reason, 'no_refresh_token');
    assert.equal(fake.requests.length, sent);
  });

  it('the fake endpoint refuses a request of another shape', async () => {
    const form = await fetch(fake.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: fake.refreshToken }).toString(),
    });
    assert.equal(form.status, 400);
    const wrongClient = await fetch(fake.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: fake.refreshToken, client_id: 'someone-else', scope: 'user:inference' }),
    });
    assert.equal(wrongClient.status, 400);
    assert.match(fake.requests.at(-1)!.shapeProblems.join(';'), /client_id someone-else/);
  });
});
