/**
 * Golden files for the normalizers: `golden/*.json` hold provider messages (recorded from
 * real runs of the agent binaries against the fakes, or hand-written from the SDK types
 * where the fakes cannot provoke them, see each file's `description`) and the normalized
 * items each message must give. To re-record, run the providers against the fakes and
 * review the new `expected` by eye before committing it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NORMALIZED_VERSION, normalizedItemSchema, type NormalizedItem, type Normalizer } from '../../src/events/normalized.js';
import { normalizeClaudeMessage } from '../../src/providers/claude-normalize.js';
import { normalizeCodexEvent } from '../../src/providers/codex-normalize.js';

const GOLDEN_DIR = join(import.meta.dirname, 'golden');
const NORMALIZERS: Record<string, Normalizer> = { codex: normalizeCodexEvent, 'claude-code': normalizeClaudeMessage };

interface Golden {
  provider: string;
  description: string;
  messages: unknown[];
  expected: NormalizedItem[][];
}

const goldens = readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, golden: JSON.parse(readFileSync(join(GOLDEN_DIR, file), 'utf8')) as Golden }));

describe('normalizers (golden files)', () => {
  test('there are recorded goldens for both providers', () => {
    const providers = new Set(goldens.map((g) => g.golden.provider));
    assert.ok(providers.has('codex') && providers.has('claude-code'));
  });

  for (const { file, golden } of goldens) {
    test(`${file}: ${golden.description}`, () => {
      const normalize = NORMALIZERS[golden.provider];
      assert.ok(normalize, `unknown provider ${golden.provider}`);
      assert.equal(golden.messages.length, golden.expected.length, 'one expected list per message');
      golden.messages.forEach((message, i) => {
        const items = normalize(message);
        assert.deepEqual(items, golden.expected[i], `message #${i} (${(message as { type?: string }).type})`);
        for (const item of items) {
          normalizedItemSchema.parse(item);
          assert.equal(item.v, NORMALIZED_VERSION);
        }
      });
    });
  }

  test('a recorded run that ended normalizes to exactly one final result, last', () => {
    for (const { file, golden } of goldens.filter((g) => !g.file.includes('synthetic'))) {
      const items = golden.messages.flatMap((m) => NORMALIZERS[golden.provider]!(m));
      const results = items.filter((i) => i.kind === 'result');
      assert.equal(results.length, 1, file);
      assert.equal(items.at(-1)?.kind, 'result', file);
    }
  });

  test('every tool result follows a call with the same id', () => {
    for (const { file, golden } of goldens) {
      const items = golden.messages.flatMap((m) => NORMALIZERS[golden.provider]!(m));
      const called = new Set<string | undefined>();
      for (const item of items) {
        if (item.kind === 'tool_call') called.add(item.tool.id);
        if (item.kind === 'tool_result' && !file.includes('synthetic')) assert.ok(called.has(item.tool.id), `${file}: result ${item.tool.id}`);
      }
    }
  });

  test('unknown or malformed messages give no items and never throw', () => {
    for (const normalize of Object.values(NORMALIZERS)) {
      for (const junk of [null, undefined, 42, 'text', [], {}, { type: 'nope' }, { type: 'item.completed' }, { type: 'assistant', message: null }, { type: 'user', message: { content: 7 } }]) {
        assert.deepEqual(normalize(junk), []);
      }
    }
  });

  test('the schema rejects items without a version or with a wrong shape', () => {
    assert.throws(() => normalizedItemSchema.parse({ kind: 'text', text: 'x' }));
    assert.throws(() => normalizedItemSchema.parse({ v: 1, kind: 'tool_call', tool: { input: {} } }));
    assert.throws(() => normalizedItemSchema.parse({ v: 1, kind: 'result', final: false, isError: false }));
    assert.doesNotThrow(() => normalizedItemSchema.parse({ v: 1, kind: 'usage', usage: { inputTokens: 1 }, scope: 'run' }));
  });
});
