/**
 * What the original worker accepted and its production clients still send
 * (issue #9), with real jobs: the real worker over HTTP runs the real `claude`
 * binary against the scripted fake model.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FakeReply, ScriptContext } from '../fixtures/fake-anthropic.js';
import { assertErrorResponse, postExecute, request } from '../fixtures/sse.js';
import {
  claudeRequest,
  findLeakedSecrets,
  OAUTH_ACCESS,
  OAUTH_REFRESH,
  processesUnder,
  SECRETS,
  sessionWorkspace,
  startRig,
  waitFor,
  type Rig,
} from './helpers.js';

const DB_TOKEN = 'db-token-COMPAT-5e4d3c2b1a09';

/** The OAuth object as the website stores it and sends it: no `claudeAiOauth` wrapper. */
const FLAT_OAUTH = {
  accessToken: OAUTH_ACCESS,
  refreshToken: OAUTH_REFRESH,
  expiresAt: Date.now() + 3_600_000,
  scopes: ['user:inference', 'user:profile'],
  subscriptionType: 'max',
  rateLimitTier: 'default_claude_max_20x',
};

/** The README's example credentials: no `scopes`. */
const README_OAUTH = { claudeAiOauth: { accessToken: OAUTH_ACCESS, refreshToken: OAUTH_REFRESH, expiresAt: 1893456000000 } };

/** A file the WAIT-FOR-RELEASE job waits for in its workspace, so a test decides when that job may end. */
const RELEASE_FILE = 'release';

/** What each prompt makes the model do; the latest user message (a prompt or a tool result) decides. */
function script({ request: recorded }: ScriptContext): FakeReply {
  const messages = (recorded.body.messages ?? []) as Array<{ role: string }>;
  const latest = JSON.stringify(messages.filter((message) => message.role === 'user').at(-1) ?? '');
  if (latest.includes('tool_result')) return { type: 'text', text: 'Done with the tool.' };
  if (latest.includes('KEEP-RUNNING')) return { type: 'text', text: 'never sent', delayMs: 60_000 };
  if (latest.includes('WAIT-FOR-RELEASE')) {
    const command = `while [ ! -e ${RELEASE_FILE} ]; do sleep 0.1; done`;
    return { type: 'tool_use', name: 'Bash', input: { command, description: 'Wait for the test' } };
  }
  return { type: 'text', text: 'Done.' };
}

describe('requests of the original worker’s clients (issue #9)', () => {
  let rig: Rig;

  before(async () => {
    // No DB_BASE_URL and no EXIT_AFTER_JOB: how such a client's worker was deployed.
    rig = await startRig(script);
  });

  after(async () => {
    await rig?.close();
  });

  /** Runs a job to its end and returns its events. */
  const run = async (body: Record<string, unknown>) => {
    const res = await postExecute(rig.worker.url, body);
    assert.equal(res.status, 200, res.text);
    return res.events();
  };

  it('a flat Claude OAuth object (no claudeAiOauth wrapper), as object and as JSON string, completes a job', async () => {
    for (const auth of [FLAT_OAUTH, JSON.stringify(FLAT_OAUTH)]) {
      const events = await run(claudeRequest('Hello', { codingAssistantAuthentication: auth }));
      assert.equal(events.at(-1)!.data.type, 'completed', JSON.stringify(events.at(-1)!.data));
      assert.equal(rig.fake.mainRequests().at(-1)!.auth.bearer, OAUTH_ACCESS, 'the agent logged in with the access token');
    }
    assert.deepEqual(await findLeakedSecrets(rig.worker), []);
  });

  it('OAuth credentials without scopes complete a job: the README example works as written', async () => {
    const { scopes: _scopes, ...flatWithoutScopes } = FLAT_OAUTH;
    for (const auth of [README_OAUTH, JSON.stringify(README_OAUTH), flatWithoutScopes]) {
      const events = await run(claudeRequest('Hello', { codingAssistantAuthentication: auth }));
      assert.equal(events.at(-1)!.data.type, 'completed', JSON.stringify(events.at(-1)!.data));
      assert.equal(rig.fake.mainRequests().at(-1)!.auth.bearer, OAUTH_ACCESS);
    }
  });

  it('`database` without DB_BASE_URL is skipped: the job completes, a debug line says so', async () => {
    const events = await run(claudeRequest('Hello', { websiteSessionId: 'with-database', database: { sessionId: 'site-42', accessToken: DB_TOKEN } }));
    assert.equal(events.at(-1)!.data.type, 'completed', JSON.stringify(events.at(-1)!.data));
    const skipped = await rig.worker.waitForLog(
      (record) => record.sessionId === 'with-database' && typeof record.msg === 'string' && record.msg.includes('DB_BASE_URL'),
    );
    assert.equal(skipped.level, 20, 'logged at debug');
    assert.deepEqual(await findLeakedSecrets(rig.worker, [...SECRETS, DB_TOKEN]), []);
  });

  it('POST /abort {"sessionId"} stops a running job: its stream ends with ABORTED and the session is saved', async () => {
    const res = await postExecute(rig.worker.url, claudeRequest('KEEP-RUNNING', { websiteSessionId: 'abort-alias' }));
    assert.equal(res.status, 200, res.text);
    const reading = res.events({ timeoutMs: 30_000 });
    const mainSoFar = rig.fake.mainRequests().length;
    await rig.fake.waitForMainRequest(mainSoFar + 1);
    const agentDir = path.join(rig.worker.dirs.workspace, 'sessions', 'abort-alias');
    assert.ok((await processesUnder(agentDir)).length > 0, 'the agent runs');

    const abort = await request(`${rig.worker.url}/abort`, { method: 'POST', body: { sessionId: 'abort-alias' } });
    assert.equal(abort.status, 200, abort.text);
    assert.deepEqual(abort.json, { sessionId: 'abort-alias', aborted: true });
    const last = (await reading).at(-1)!.data;
    assert.equal(last.type, 'error');
    assert.equal(last.code, 'ABORTED');
    await waitFor(async () => ((await processesUnder(agentDir)).length === 0 ? true : undefined), 10_000);

    const metadata = (await request(`${rig.worker.url}/sessions/abort-alias`)).json as Record<string, unknown>;
    assert.equal(metadata.status, 'aborted');
    assert.equal(metadata.hasArchive, true);
    const again = await request(`${rig.worker.url}/abort`, { method: 'POST', body: { sessionId: 'abort-alias' } });
    assertErrorResponse(again, { status: 404, code: 'SESSION_NOT_FOUND' });
  });

  it('without EXIT_AFTER_JOB, the POST /shutdown sent after every stream changes nothing: the next job runs', async () => {
    for (const turn of [1, 2]) {
      const events = await run(claudeRequest(`Turn ${turn}`, { websiteSessionId: 'keeps-serving' }));
      assert.equal(events.at(-1)!.data.type, 'completed', JSON.stringify(events.at(-1)!.data));
      const shutdown = await request(`${rig.worker.url}/shutdown`, { method: 'POST', body: {} });
      assert.equal(shutdown.status, 200, shutdown.text);
      assert.equal((shutdown.json as { exiting: boolean }).exiting, false);
    }
    assert.equal(rig.worker.proc.exitCode, null);
    const metadata = (await request(`${rig.worker.url}/sessions/keeps-serving`)).json as Record<string, unknown>;
    assert.equal(metadata.turns, 2);
  });
});

describe('POST /shutdown with EXIT_AFTER_JOB=true while a job runs', () => {
  it('answers 200; the job finishes, its session is saved, then the worker exits 0', async () => {
    const rig = await startRig(script, { EXIT_AFTER_JOB: 'true' });
    try {
      const res = await postExecute(rig.worker.url, claudeRequest('WAIT-FOR-RELEASE', { websiteSessionId: 'last-job' }));
      assert.equal(res.status, 200, res.text);
      const reading = res.events({ timeoutMs: 60_000 });
      await rig.fake.waitForMainRequest(1);

      // The job cannot end before the release file exists.
      const shutdown = await request(`${rig.worker.url}/shutdown`, { method: 'POST' });
      assert.equal(shutdown.status, 200, shutdown.text);
      const answer = shutdown.json as { exiting: boolean; message: string };
      assert.equal(answer.exiting, true);
      assert.match(answer.message, /once its running job is saved/);
      assert.equal((await request(`${rig.worker.url}/health`)).status, 200, 'still serving while the job runs');
      assert.equal(rig.worker.proc.exitCode, null);

      await fs.writeFile(path.join(sessionWorkspace(rig.worker, 'last-job'), RELEASE_FILE), '');
      assert.equal((await reading).at(-1)!.data.type, 'completed');
      assert.deepEqual(await rig.worker.exited, { code: 0, signal: null });

      const metadata = JSON.parse(await fs.readFile(path.join(rig.worker.dirs.sessions, 'last-job', 'metadata.json'), 'utf8'));
      assert.equal(metadata.status, 'completed');
      assert.equal(metadata.hasArchive, true);
      const messages = rig.worker.logRecords().map((record) => record.msg);
      const finished = messages.indexOf('job finished');
      const stopping = messages.indexOf('worker stopping');
      assert.ok(finished >= 0 && stopping > finished, 'the worker stopped only after the job was saved');
    } finally {
      await rig.close();
    }
  });
});
