import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSse, SseParser, type SseFrame } from '../../src/client/sse.js';

/** A stream that delivers `bytes` in the given chunks. */
function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function readAll(chunks: Uint8Array[]): Promise<SseFrame[]> {
  const frames: SseFrame[] = [];
  for await (const frame of readSse(streamOf(chunks))) frames.push(frame);
  return frames;
}

const message = (data: string, lastEventId = '', type = 'message'): SseFrame => ({ kind: 'message', type, data, lastEventId });

// Covers the WHATWG rules the client relies on, with every line ending the spec allows.
const STREAM =
  '\uFEFF: keep-alive\r\n\r\n' +
  'id: 1\ndata: {"type":"connected"}\n\n' +
  'data:first line\r\ndata:  second line\rdata\n\n' +
  'id: 7\nevent: custom\ndata: x\n\n' +
  'data: inherits id 7\n\n' +
  'id: 8\u00009\ndata: NUL id ignored\n\n' +
  'id\ndata: empty id\n\n' +
  'event: no data\nid: 10\n\n' +
  'retry: 1500\nfield without meaning: 3\ndata: after\n\n' +
  'data: not finished';

const EXPECTED: SseFrame[] = [
  { kind: 'comment', text: ' keep-alive' },
  message('{"type":"connected"}', '1'),
  message('first line\n second line\n', '1'),
  message('x', '7', 'custom'),
  message('inherits id 7', '7'),
  message('NUL id ignored', '7'),
  message('empty id', ''),
  message('after', '10'),
];

describe('client: SSE parser', () => {
  it('follows the WHATWG event stream rules', async () => {
    const parser = new SseParser();
    assert.deepEqual(parser.feed(STREAM.slice(1)), EXPECTED);
    assert.equal(parser.retryMs, 1500);
    // The decoder drops the byte order mark, once.
    assert.deepEqual(await readAll([new TextEncoder().encode(STREAM)]), EXPECTED);
  });

  it('gives the same frames however the bytes are split (CRLF and multi-byte characters across chunks)', async () => {
    const text = `${STREAM.slice(0, -'data: not finished'.length)}data: ünïcödé → 🚀\r\n\r\n`;
    const bytes = new TextEncoder().encode(text);
    const expected = [...EXPECTED, message('ünïcödé → 🚀', '10')];
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(await readAll([bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `split at byte ${cut}`);
    }
    assert.deepEqual(await readAll(Array.from(bytes, (byte) => Uint8Array.of(byte))), expected, 'one byte at a time');
  });

  it('stops waiting for data after the idle timeout', async () => {
    const silent = new ReadableStream<Uint8Array>({ start() {} });
    await assert.rejects(async () => {
      for await (const frame of readSse(silent, { idleTimeoutMs: 50 })) assert.fail(`unexpected ${JSON.stringify(frame)}`);
    }, { name: 'SseIdleTimeoutError' });
  });
});
