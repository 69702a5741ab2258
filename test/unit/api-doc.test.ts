import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/config/env.js';
import { HTTP_ERROR_CODES, STREAM_ERROR_CODES } from '../../src/errors/codes.js';
import { eventSchemas } from '../../src/events/registry.js';

const apiDoc = await fs.readFile(new URL('../../API.md', import.meta.url), 'utf8');

/** The table row of API.md whose first cell is `name` in backticks. */
function rowOf(name: string): string | undefined {
  return apiDoc.split('\n').find((line) => line.startsWith(`| \`${name}\``));
}

describe('API.md documents what the code defines', () => {
  it('every HTTP error code with its status', () => {
    for (const [code, { status }] of Object.entries(HTTP_ERROR_CODES)) {
      const row = rowOf(code);
      assert.ok(row, `${code} has a row`);
      assert.ok(row.includes(`| ${status} |`), `${code} is documented with status ${status}`);
    }
  });

  it('every stream error code', () => {
    for (const code of Object.keys(STREAM_ERROR_CODES)) assert.ok(rowOf(code), `${code} has a row`);
  });

  it('every event type with each of its fields', () => {
    for (const [type, schema] of Object.entries(eventSchemas)) {
      const row = rowOf(type);
      assert.ok(row, `event ${type} has a row`);
      for (const field of Object.keys(schema.shape)) {
        if (field === 'type' || field === 'timestamp') continue;
        assert.ok(row.includes(`\`${field}`), `event ${type} documents its field ${field}`);
      }
    }
  });

  it('every environment variable', () => {
    for (const name of CONFIG_VARIABLES) assert.ok(apiDoc.includes(`\`${name}\``), `${name} is documented`);
  });
});
