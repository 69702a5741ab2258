import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fallbackName, nameSession, sessionBranchName, shortSessionId, slugify } from '../../src/git/naming.js';
import { fallbackCommitMessage } from '../../src/git/commit.js';
import { parseRepoUrl } from '../../src/git/repo-url.js';

describe('session naming', () => {
  test('branch names: <prefix>/<slug>-<short id>', () => {
    assert.equal(sessionBranchName('claude', 'add-error-handling', '1a2b3c4d-0000-4000-8000-000000000000'), 'claude/add-error-handling-1a2b3c4d');
    assert.equal(sessionBranchName('codex', 'Fix: the BUG!', 'my-session'), `codex/fix-the-bug-${shortSessionId('my-session')}`);
    assert.match(shortSessionId('my-session'), /^[0-9a-f]{8}$/);
    assert.notEqual(shortSessionId('my-session-1'), shortSessionId('my-session-2'));
    assert.equal(sessionBranchName('claude', '', 'abc'), `claude/session-${shortSessionId('abc')}`);
  });

  test('slugs are short, lowercase, hyphenated ASCII', () => {
    assert.equal(slugify('  Ünïcode & spaces -- here  '), 'unicode-spaces-here');
    assert.ok(slugify('word '.repeat(40)).length <= 40);
    assert.ok(!slugify('word '.repeat(40)).endsWith('-'));
  });

  test('fallback from the request text', () => {
    assert.deepEqual(fallbackName('Please add error handling to the parser\nand more details'), {
      title: 'Please add error handling to the parser',
      slug: 'add-error-handling-parser',
      source: 'fallback',
    });
    assert.equal(fallbackName('').title, 'Untitled session');
    assert.equal(fallbackName('!!!').slug, 'session');
  });

  test('model answer parsed, even inside a code fence', async () => {
    const name = await nameSession('x', async () => '```json\n{"title": "Retry logic", "slug": "Add Retry Logic"}\n```');
    assert.deepEqual(name, { title: 'Retry logic', slug: 'add-retry-logic', source: 'model' });
  });

  test('generator missing, throwing, garbage or too slow: fallback, never a throw', async () => {
    const request = 'Refactor the config loader';
    const expected = fallbackName(request);
    assert.deepEqual(await nameSession(request, undefined), expected);
    assert.deepEqual(await nameSession(request, async () => Promise.reject(new Error('boom'))), expected);
    assert.deepEqual(
      await nameSession(request, () => {
        throw new Error('sync boom');
      }),
      expected,
    );
    assert.deepEqual(await nameSession(request, async () => 'no json here'), expected);
    const started = Date.now();
    assert.deepEqual(await nameSession(request, () => new Promise<string>(() => undefined), 50), expected);
    assert.ok(Date.now() - started < 1_000);
  });
});

describe('fallback commit messages', () => {
  test('one file, several files, renames', () => {
    assert.equal(fallbackCommitMessage([{ status: 'added', path: 'src/a.ts' }]), 'Add src/a.ts');
    assert.equal(
      fallbackCommitMessage([
        { status: 'modified', path: 'src/a.ts' },
        { status: 'deleted', path: 'b.md' },
      ]),
      'Update 2 files: a.ts, b.md\n\n- Update src/a.ts\n- Delete b.md',
    );
    assert.equal(fallbackCommitMessage([{ status: 'renamed', path: 'new.ts', from: 'old.ts' }]), 'Rename old.ts to new.ts');
    const many = Array.from({ length: 40 }, (_, i) => ({ status: 'added' as const, path: `file-${i}.ts` }));
    const message = fallbackCommitMessage(many);
    assert.ok(message.split('\n')[0]!.length <= 72);
    assert.match(message, /and 10 more/);
  });
});

describe('repository URLs', () => {
  test('owner, repo and folder', () => {
    assert.deepEqual(parseRepoUrl('https://github.com/acme/widgets.git'), { owner: 'acme', repo: 'widgets', folderName: 'widgets' });
    assert.deepEqual(parseRepoUrl('https://github.com/acme/widgets'), { owner: 'acme', repo: 'widgets', folderName: 'widgets' });
    assert.equal(parseRepoUrl('http://127.0.0.1:1/solo.git').owner, undefined);
    assert.equal(parseRepoUrl('https://github.com/acme/..git').folderName, 'repo');
  });
});
