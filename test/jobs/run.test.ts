import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imageBlocks } from '../fixtures/fake-anthropic.js';
import { getStream, postExecute, request } from '../fixtures/sse.js';
import { API_KEY, OAUTH_ACCESS, claudeRequest, findLeakedSecrets, sessionWorkspace, startRig, typesOf, type Rig } from './helpers.js';

// A 1x1 transparent PNG.
const PNG_1X1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

describe('a job through the worker with the real Claude Code agent', () => {
  let rig: Rig;
  let sessionId = '';

  before(async () => {
    rig = await startRig(({ index, request: recorded }) => {
      const text = JSON.stringify(recorded.body.messages ?? []);
      if (text.includes('FAIL-THE-MODEL')) return { type: 'error', status: 400, message: 'fake model refuses this request' };
      if (text.includes('WRITE-A-FILE') && index === 0) {
        return { type: 'tool_use', name: 'Write', input: { file_path: 'hello.txt', content: 'hello from the agent\n' } };
      }
      return { type: 'text', text: 'All done.' };
    });
  });

  after(async () => {
    await rig.close();
  });

  it('creates a file through a tool call and streams numbered events in order', async () => {
    const res = await postExecute(rig.worker.url, claudeRequest('WRITE-A-FILE: create hello.txt'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control')?.startsWith('no-cache'), true);
    assert.ok(res.headers.get('x-container-id'));
    sessionId = res.headers.get('x-session-id') ?? '';
    assert.match(sessionId, /^[0-9a-f-]{36}$/);

    const events = await res.events();
    const types = typesOf(events);
    assert.equal(types[0], 'connected');
    assert.equal(types.at(-1), 'completed');
    assert.deepEqual(
      events.map((event) => event.id),
      events.map((_, index) => index + 1),
      'ids count from 1 without gaps',
    );
    for (const event of events) assert.match(String(event.data.timestamp), /^\d{4}-\d\d-\d\dT/);
    const connected = events[0]!.data;
    assert.equal(connected.sessionId, sessionId);
    assert.equal(connected.resuming, false);
    assert.equal(connected.provider, 'claude-code');

    const assistant = events.filter((event) => event.data.type === 'assistant_message');
    assert.ok(assistant.length >= 3, 'init, tool use, tool result and result arrive as assistant messages');
    assert.ok(assistant.every((event) => event.data.provider === 'claude-code'));
    const raw = assistant.map((event) => event.data.data as { type: string });
    assert.equal(raw[0]!.type, 'system');
    assert.equal(raw.at(-1)!.type, 'result');
    assert.ok(JSON.stringify(raw).includes('"name":"Write"'), 'the tool call is forwarded unchanged');

    const completed = events.at(-1)!.data;
    assert.equal(completed.sessionId, sessionId);
    assert.equal(typeof completed.duration_ms, 'number');
    assert.equal((completed.usage as { outputTokens?: number }).outputTokens !== undefined, true);

    const written = await fs.readFile(path.join(sessionWorkspace(rig.worker, sessionId), 'hello.txt'), 'utf8');
    assert.equal(written, 'hello from the agent\n');
  });

  it('stores metadata, the event log and the workspace archive', async () => {
    const dir = path.join(rig.worker.dirs.sessions, sessionId);
    const metadata = JSON.parse(await fs.readFile(path.join(dir, 'metadata.json'), 'utf8'));
    assert.equal(metadata.status, 'completed');
    assert.equal(metadata.provider, 'claude-code');
    assert.equal(metadata.turns, 1);
    assert.equal(metadata.hasArchive, true);
    assert.ok(metadata.agentSessionId, 'the agent conversation id is kept for resume');
    const lines = (await fs.readFile(path.join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, metadata.lastEventId);
    assert.equal(JSON.parse(lines.at(-1)!).event.type, 'completed');

    const list = await request(`${rig.worker.url}/sessions`);
    const sessions = (list.json as { count: number; sessions: Array<Record<string, unknown>> }).sessions;
    const listed = sessions.find((session) => session.sessionId === sessionId);
    assert.ok(listed);
    assert.equal(listed.storage, 'fs');
    assert.equal(listed.status, 'completed');
    assert.equal(listed.title, 'WRITE-A-FILE: create hello.txt');

    const one = await request(`${rig.worker.url}/sessions/${sessionId}`);
    assert.equal(one.status, 200);
    assert.equal((one.json as { sessionId: string }).sessionId, sessionId);
  });

  it('replays the stored stream in order and honours Last-Event-ID', async () => {
    const full = await (await getStream(rig.worker.url, sessionId)).events();
    assert.equal(full[0]!.data.type, 'connected');
    assert.equal(full.at(-1)!.data.type, 'completed');
    const tail = await (await getStream(rig.worker.url, sessionId, 3)).events();
    assert.deepEqual(
      tail.map((event) => event.id),
      full.filter((event) => event.id! > 3).map((event) => event.id),
    );
    assert.deepEqual(
      tail.map((event) => event.raw),
      full.slice(3).map((event) => event.raw),
      'replayed frames are identical to the stored ones',
    );
  });

  it('passes image blocks on to the model', async () => {
    const before = rig.fake.mainRequests().length;
    const res = await postExecute(
      rig.worker.url,
      claudeRequest([
        { type: 'text', text: 'Describe this picture.' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1X1 } },
      ]),
    );
    const events = await res.events();
    assert.equal(events.at(-1)!.data.type, 'completed');
    const sent = rig.fake.mainRequests().slice(before);
    const images = sent.flatMap(imageBlocks);
    assert.ok(images.length >= 1, 'the model received the image');
    assert.equal(images[0]!.source.media_type, 'image/png');
    assert.equal(images[0]!.source.data, PNG_1X1);
  });

  it('reports a model error as PROVIDER_ERROR and still saves the session', async () => {
    const res = await postExecute(rig.worker.url, claudeRequest('FAIL-THE-MODEL please', { codingAssistantAuthentication: API_KEY }));
    const events = await res.events({ timeoutMs: 120_000 });
    const last = events.at(-1)!.data;
    assert.equal(last.type, 'error');
    assert.equal(last.code, 'PROVIDER_ERROR');
    assert.ok(String(last.error).length > 0);
    const failedId = res.headers.get('x-session-id')!;
    const metadata = (await request(`${rig.worker.url}/sessions/${failedId}`)).json as Record<string, any>;
    assert.equal(metadata.status, 'failed');
    assert.equal(metadata.hasArchive, true);
    assert.equal(metadata.lastError.code, 'PROVIDER_ERROR');
    const status = await request(`${rig.worker.url}/status`);
    assert.equal(status.status, 200, 'the worker is idle again');
  });

  it('authenticates with the request credentials and never leaks them', async () => {
    const withOauth = rig.fake.mainRequests().filter((recorded) => recorded.auth.bearer === OAUTH_ACCESS);
    assert.ok(withOauth.length > 0, 'the OAuth access token reached the model as a bearer token');
    const withKey = rig.fake.mainRequests().filter((recorded) => recorded.auth.apiKey === API_KEY);
    assert.ok(withKey.length > 0, 'the API key reached the model as x-api-key');
    assert.deepEqual(await findLeakedSecrets(rig.worker), []);
  });
});
