import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findCredentials, findGithubToken, saveRefreshedClaudeLogin } from '../../src/cli/credentials.js';
import { makeTempDir } from '../fixtures/temp.js';
import { OAUTH_CREDENTIALS } from '../jobs/helpers.js';
import { writeClaudeLogin } from './helpers.js';

const CODEX_AUTH = { OPENAI_API_KEY: null, tokens: { id_token: 'id', access_token: 'access', refresh_token: 'refresh', account_id: 'acct' } };

async function writeCodexAuth(dir: string, auth: unknown = CODEX_AUTH): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'auth.json'), JSON.stringify(auth));
}

describe('cli: credentials discovery', () => {
  it('claude: the claudeAiOauth object of ~/.claude/.credentials.json', async () => {
    await using home = await makeTempDir('cli-home');
    await writeClaudeLogin(home.path, { ...OAUTH_CREDENTIALS, mcpOAuth: { other: 'ignored' } });
    const found = await findCredentials('claude', { HOME: home.path });
    assert.deepEqual(found, { source: join(home.path, '.claude', '.credentials.json'), value: OAUTH_CREDENTIALS });
  });

  it('claude: ANTHROPIC_API_KEY, then CLAUDE_CODE_OAUTH_TOKEN, come before the login file', async () => {
    await using home = await makeTempDir('cli-home');
    await writeClaudeLogin(home.path);
    const env = { HOME: home.path, ANTHROPIC_API_KEY: 'sk-ant-api03-key', CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-token' };
    assert.deepEqual(await findCredentials('claude', env), { source: 'ANTHROPIC_API_KEY', value: 'sk-ant-api03-key' });
    assert.deepEqual(await findCredentials('claude', { ...env, ANTHROPIC_API_KEY: '' }), {
      source: 'CLAUDE_CODE_OAUTH_TOKEN',
      value: { claudeAiOauth: { accessToken: 'sk-ant-oat01-token' } },
    });
  });

  it('claude: CLAUDE_CONFIG_DIR moves the login file', async () => {
    await using home = await makeTempDir('cli-home');
    await writeClaudeLogin(home.path);
    const configDir = join(home.path, '.claude');
    const found = await findCredentials('claude', { HOME: '/nonexistent', CLAUDE_CONFIG_DIR: configDir });
    assert.equal(found?.source, join(configDir, '.credentials.json'));
  });

  it('codex: OPENAI_API_KEY, else the whole ~/.codex/auth.json (or $CODEX_HOME/auth.json)', async () => {
    await using home = await makeTempDir('cli-home');
    await writeCodexAuth(join(home.path, '.codex'));
    assert.deepEqual(await findCredentials('codex', { HOME: home.path, OPENAI_API_KEY: 'sk-openai' }), { source: 'OPENAI_API_KEY', value: 'sk-openai' });
    assert.deepEqual(await findCredentials('codex', { HOME: home.path }), { source: join(home.path, '.codex', 'auth.json'), value: CODEX_AUTH });
    await writeCodexAuth(join(home.path, 'codex-home'), { OPENAI_API_KEY: 'sk-from-file' });
    assert.deepEqual((await findCredentials('codex', { HOME: home.path, CODEX_HOME: join(home.path, 'codex-home') }))?.value, { OPENAI_API_KEY: 'sk-from-file' });
  });

  it('nothing found: undefined for an empty HOME, a login file without a token, or no HOME at all', async () => {
    await using home = await makeTempDir('cli-home');
    assert.equal(await findCredentials('claude', { HOME: home.path }), undefined);
    assert.equal(await findCredentials('codex', { HOME: home.path }), undefined);
    assert.equal(await findCredentials('claude', {}), undefined);
    await writeClaudeLogin(home.path, { claudeAiOauth: {} });
    assert.equal(await findCredentials('claude', { HOME: home.path }), undefined);
  });

  it('a login file that is not JSON is an error, not skipped', async () => {
    await using home = await makeTempDir('cli-home');
    await mkdir(join(home.path, '.claude'));
    await writeFile(join(home.path, '.claude', '.credentials.json'), '{not json');
    await assert.rejects(findCredentials('claude', { HOME: home.path }), /is not valid JSON/);
  });

  it('GitHub: GITHUB_TOKEN, else GH_TOKEN', () => {
    assert.equal(findGithubToken({ GITHUB_TOKEN: 'a', GH_TOKEN: 'b' }), 'a');
    assert.equal(findGithubToken({ GH_TOKEN: 'b' }), 'b');
    assert.equal(findGithubToken({}), undefined);
  });

  it('a login the worker refreshed is written back into its file, keeping every other field; an env variable is not', async () => {
    await using home = await makeTempDir('cli-home');
    await writeClaudeLogin(home.path, { ...OAUTH_CREDENTIALS, mcpOAuth: { other: 'kept' } });
    const file = join(home.path, '.claude', '.credentials.json');
    const login = { accessToken: 'sk-ant-oat01-NEW', refreshToken: 'sk-ant-ort01-NEW', expiresAt: 4102444800000 };
    assert.equal(await saveRefreshedClaudeLogin(file, login), true);
    const saved = JSON.parse(await readFile(file, 'utf8'));
    assert.deepEqual(saved.claudeAiOauth, { ...OAUTH_CREDENTIALS.claudeAiOauth, ...login }, 'the scopes are kept, the tokens replaced');
    assert.deepEqual(saved.mcpOAuth, { other: 'kept' });
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'readable by its owner only');
    assert.equal(await saveRefreshedClaudeLogin('CLAUDE_CODE_OAUTH_TOKEN', login), false);
  });
});
