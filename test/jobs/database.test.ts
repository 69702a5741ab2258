import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { postExecute } from '../fixtures/sse.js';
import { claudeRequest, startRig, type Rig } from './helpers.js';

const DB_TOKEN = 'db-token-JOBTEST-7a6b5c4d3e2f';

interface Received {
  path: string;
  authorization?: string;
  body: { sessionId: string; id: number; event: { type: string } };
}

/** A stand-in for the DB API that records every POST and can be told to fail. */
async function startDbApi(): Promise<{ url: string; received: Received[]; failWith?: number; server: Server }> {
  const state: { url: string; received: Received[]; failWith?: number; server: Server } = {
    url: '',
    received: [],
    server: createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        if (state.failWith) {
          res.writeHead(state.failWith).end();
          return;
        }
        state.received.push({ path: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(raw) });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    }),
  };
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/api`;
  return state;
}

describe('streaming events to the DB API (`database`)', () => {
  let db: Awaited<ReturnType<typeof startDbApi>>;
  let rig: Rig;

  before(async () => {
    db = await startDbApi();
    rig = await startRig([], { DB_BASE_URL: db.url });
  });

  after(async () => {
    await rig.close();
    await new Promise((resolve) => db.server.close(resolve));
  });

  it('posts every event of the job, in order, with the request’s bearer token', async () => {
    const res = await postExecute(rig.worker.url, claudeRequest('Hello', { database: { sessionId: 'db-42', accessToken: DB_TOKEN } }));
    const events = await res.events();
    assert.equal(events.at(-1)!.data.type, 'completed');
    assert.deepEqual(
      db.received.map((received) => received.body.id),
      events.map((event) => event.id),
      'the DB got every streamed event, in order, by the time the stream ended',
    );
    assert.deepEqual(
      db.received.map((received) => received.body.event.type),
      events.map((event) => event.data.type),
    );
    for (const received of db.received) {
      assert.equal(received.path, '/api/sessions/db-42/events');
      assert.equal(received.authorization, `Bearer ${DB_TOKEN}`);
      assert.equal(received.body.sessionId, 'db-42');
    }
    assert.ok(!rig.worker.logs().includes(DB_TOKEN));
  });

  it('a failing DB API never fails the job', async () => {
    db.failWith = 503;
    try {
      const events = await (await postExecute(rig.worker.url, claudeRequest('Hello again', { database: { accessToken: DB_TOKEN } }))).events();
      assert.equal(events.at(-1)!.data.type, 'completed');
      assert.ok(rig.worker.logs().includes('DB API refused an event'));
    } finally {
      db.failWith = undefined;
    }
  });
});
