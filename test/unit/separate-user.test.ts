import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SeparateUser } from '../../src/isolation/separate-user.js';
import { makeTempDir } from '../fixtures/temp.js';

const ROOT_ONLY = { skip: process.getuid?.() === 0 ? false : 'changing owners needs root' };
const UID = 61990;

async function owners(dir: string): Promise<Map<string, number>> {
  const result = new Map<string, number>([['.', (await fs.lstat(dir)).uid]]);
  for (const entry of await fs.readdir(dir, { recursive: true })) result.set(entry, (await fs.lstat(path.join(dir, entry))).uid);
  return result;
}

describe('handing a folder over to the agent user (issue #8)', () => {
  for (const files of [3, 450]) {
    it(`re-owns every entry of a tree of ${files} files and never follows a symlink`, ROOT_ONLY, async () => {
      await using root = await makeTempDir('acw-hand-over');
      const outside = path.join(root.path, 'outside.txt');
      await fs.writeFile(outside, 'the worker\'s');
      const tree = path.join(root.path, 'tree');
      await fs.mkdir(path.join(tree, 'a', 'b'), { recursive: true });
      for (let i = 0; i < files; i++) await fs.writeFile(path.join(tree, i % 2 ? 'a' : path.join('a', 'b'), `f${i}`), 'x');
      await fs.symlink(outside, path.join(tree, 'link'));

      await new SeparateUser(UID, path.join(root.path, 'launchers'), false).handOver(tree);

      const found = await owners(tree);
      assert.equal(found.size, files + 4);
      for (const [entry, uid] of found) assert.equal(uid, UID, `${entry} belongs to the agent user`);
      assert.equal((await fs.stat(outside)).uid, 0, 'the symlink target stays the worker\'s');
    });
  }
});
