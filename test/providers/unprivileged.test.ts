import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NOBODY = 65534;

/**
 * The provider suites run both ways: as root they start their agents under a
 * uid of their own (test/fixtures/agent-user.ts, as an isolated worker does);
 * here they run once more as `nobody`, who cannot switch uids, so the agents
 * run as the worker's own user (AGENT_ISOLATION=auto's fallback on a laptop).
 */
describe('the agents as an unprivileged user', () => {
  it(
    'pass the Claude Code and Codex provider suites as uid 65534',
    { skip: process.getuid?.() !== 0 ? 'already unprivileged: the main run covers it' : false, timeout: 300_000 },
    async () => {
      const output = await new Promise<{ code: number | null; text: string }>((resolve) => {
        const child = spawn(
          'setpriv',
          [
            `--reuid=${NOBODY}`,
            `--regid=${NOBODY}`,
            '--clear-groups',
            process.execPath,
            '--import',
            'tsx',
            '--test',
            '--test-reporter=tap',
            'test/providers/claude-code.test.ts',
            'test/providers/codex.test.ts',
          ],
          { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: '/tmp', LANG: 'C.UTF-8' } },
        );
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
        child.on('close', (code) => resolve({ code, text }));
      });
      assert.equal(output.code, 0, output.text.slice(-4000));
      assert.match(output.text, /^# fail 0$/m);
      assert.match(output.text, /^# pass [1-9]\d*$/m);
    },
  );
});
