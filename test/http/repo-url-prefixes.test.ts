import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGitServer, type GitServer } from '../fixtures/git-server.js';
import { assertErrorResponse, postExecute, request } from '../fixtures/sse.js';
import { claudeRequest, startRig, type Rig } from '../jobs/helpers.js';

const GIT_TOKEN = 'ghp_PREFIXTEST_GIT_TOKEN_7e6d5c4b3a29';

/**
 * Issue #8: GIT_ALLOWED_URL_PREFIXES used to be a string prefix, so
 * `http://127.0.0.1:<first digit of the port>` admitted the git server's real
 * port and `…/acme` admitted `…/acmeevil`. Every near miss below points at a
 * real repository on a real git server: if one were admitted, it would be cloned.
 */
describe('repoUrl is matched against GIT_ALLOWED_URL_PREFIXES as a URL (issue #8)', () => {
  let gitServer: GitServer;
  let rig: Rig;
  let port: string;

  before(async () => {
    gitServer = await startGitServer({ token: GIT_TOKEN });
    port = new URL(gitServer.url).port;
    for (const name of ['acme/widgets', 'acmeevil/widgets', 'other/widgets']) {
      await gitServer.createRepo(name, { 'README.md': `# ${name}\n` });
    }
    rig = await startRig([{ type: 'text', text: 'Done.' }], {
      // The second entry is the string prefix of the git server's own origin that issue #8 describes.
      GIT_ALLOWED_URL_PREFIXES: `${gitServer.url}/acme,http://127.0.0.1:${port[0]}`,
    });
  });

  after(async () => {
    await rig?.close();
    await gitServer?.close();
  });

  const withRepo = (repoUrl: string) => claudeRequest('Say hello', { github: { repoUrl, accessToken: GIT_TOKEN }, autoCommit: false });

  for (const [what, repoUrl] of [
    ['a port that merely starts with an allowed port', () => `http://127.0.0.1:${port}/other/widgets.git`],
    ['a path segment that merely starts with the allowed one', () => `http://127.0.0.1:${port}/acmeevil/widgets.git`],
    ['the allowed host and port with another scheme', () => `https://127.0.0.1:${port}/acme/widgets.git`],
    ['another name for the allowed host', () => `http://localhost:${port}/acme/widgets.git`],
  ] as const) {
    it(`${what} → 400 VALIDATION_ERROR on github.repoUrl, and git is never contacted`, async () => {
      const before = gitServer.requests.length;
      const res = await postExecute(rig.worker.url, withRepo(repoUrl()));
      assertErrorResponse(res, { status: 400, code: 'VALIDATION_ERROR', field: 'github.repoUrl' });
      assert.match(res.json.message, new RegExp(`${gitServer.url}/acme`), 'the message names the allowed prefixes');
      assert.equal(res.headers.get('x-session-id'), null);
      assert.deepEqual(gitServer.requests.slice(before), []);
      const status = await request(`${rig.worker.url}/status`);
      assert.equal((status.json as Record<string, unknown>).status, 'idle');
    });
  }

  it('a repository under the allowed path is cloned (control)', async () => {
    const res = await postExecute(rig.worker.url, withRepo(`${gitServer.url}/acme/widgets.git`));
    assert.equal(res.status, 200, res.text);
    const events = await res.events();
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'completed', JSON.stringify(last));
    assert.ok(
      gitServer.requests.some((recorded) => recorded.path.startsWith('/acme/widgets.git/')),
      'the git server served the clone',
    );
  });
});
