/**
 * Issue #12 in the gateway role: a login the worker refreshed reaches the client
 * through the gateway's live stream (sealed on its way through Redis), waits for
 * GET /sessions/:id/credentials on any gateway, and is never in Redis in plain text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ScriptContext } from '../fixtures/fake-anthropic.js';
import { startFakeOauth, type FakeOauth } from '../fixtures/fake-oauth.js';
import { postExecute, request } from '../fixtures/sse.js';
import { claudeRequest } from '../jobs/helpers.js';
import { startCluster, type Cluster } from './cluster.js';

const OLD_ACCESS = 'sk-ant-oat01-QUEUETEST-EXPIRED-ACCESS-7777';
const OLD_REFRESH = 'sk-ant-ort01-QUEUETEST-FIRST-REFRESH-8888';

describe('a refreshed Claude login in the gateway role (issue #12)', () => {
  let oauth: FakeOauth;
  let cluster: Cluster;

  before(async () => {
    oauth = await startFakeOauth({ refreshToken: OLD_REFRESH });
    // Answers only the refreshed bearer: the job completes only if the worker refreshed first.
    const script = (ctx: ScriptContext) =>
      ctx.request.auth.bearer === oauth.accessToken
        ? { type: 'text' as const, text: 'Done.', delayMs: 300 }
        : { type: 'error' as const, status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'expired' } } };
    cluster = await startCluster(script, { gateways: 2, workers: 1, env: { CLAUDE_OAUTH_TOKEN_URL: oauth.tokenUrl } });
  });

  after(async () => {
    await cluster?.close();
    await oauth?.close();
  });

  it('the live stream carries it once; any gateway hands it back once; Redis never holds it in plain text', async () => {
    const [first, second] = cluster.gateways;
    const login = { claudeAiOauth: { accessToken: OLD_ACCESS, refreshToken: OLD_REFRESH, expiresAt: Date.now() - 1_000 } };
    const res = await postExecute(first!.url, claudeRequest('Hello', { codingAssistantAuthentication: login, websiteSessionId: 'queue-login' }));
    assert.equal(res.status, 200, res.text);
    const events = await res.events({ timeoutMs: 60_000 });
    assert.equal(events.at(-1)!.data.type, 'completed', cluster.diagnostics());

    const updates = events.filter((event) => event.data.type === 'credentials_updated');
    assert.equal(updates.length, 1, 'the gateway relayed the live-only event once');
    assert.equal(updates[0]!.rawId, undefined);
    assert.equal(updates[0]!.data.accessToken, oauth.accessToken);
    assert.equal(updates[0]!.data.refreshToken, oauth.refreshToken);

    const keyspace = await cluster.redis.dumpKeyspace();
    for (const secret of [OLD_ACCESS, OLD_REFRESH, oauth.accessToken, oauth.refreshToken]) {
      assert.ok(!keyspace.includes(secret), 'no token of the login sits in Redis in plain text');
    }

    const handedBack = await request(`${second!.url}/sessions/queue-login/credentials`);
    assert.equal(handedBack.status, 200, handedBack.text);
    assert.equal((handedBack.json as { accessToken: string }).accessToken, oauth.accessToken);
    const again = await request(`${first!.url}/sessions/queue-login/credentials`);
    assert.equal(again.status, 404, 'once, whichever gateway is asked');
  });
});
