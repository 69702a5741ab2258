import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAllowedRepoUrl, parseAllowedUrlPrefix, type AllowedUrlPrefix } from '../../src/git/repo-url.js';

function prefixes(...entries: string[]): AllowedUrlPrefix[] {
  return entries.map((entry) => {
    const parsed = parseAllowedUrlPrefix(entry);
    assert.ok(parsed.ok, `${entry} parses: ${parsed.ok ? '' : parsed.problem}`);
    return parsed.prefix;
  });
}

function problemOf(entry: string): string {
  const parsed = parseAllowedUrlPrefix(entry);
  assert.equal(parsed.ok, false, `${entry} is refused`);
  return parsed.ok ? '' : parsed.problem;
}

describe('GIT_ALLOWED_URL_PREFIXES entries (issue #8)', () => {
  it('parses http(s) URLs, normalising case, default ports and trailing slashes', () => {
    const [github, loopback, enterprise] = prefixes('HTTPS://GitHub.com', 'http://127.0.0.1:4/', 'https://ghe.example.com:443/acme/');
    assert.deepEqual({ ...github }, { href: 'https://github.com/', protocol: 'https:', host: 'github.com', path: '' });
    assert.deepEqual({ ...loopback }, { href: 'http://127.0.0.1:4/', protocol: 'http:', host: '127.0.0.1:4', path: '' });
    assert.deepEqual(
      { ...enterprise },
      { href: 'https://ghe.example.com/acme/', protocol: 'https:', host: 'ghe.example.com', path: '/acme' },
    );
  });

  it('refuses what is not a URL', () => {
    assert.match(problemOf('github.com/acme'), /is not a URL/);
    assert.match(problemOf('https://'), /is not a URL/);
  });

  it('refuses schemes other than http and https', () => {
    for (const entry of ['ssh://github.com/', 'file:///srv/git', 'git://github.com/', 'ftp://github.com/']) {
      assert.match(problemOf(entry), /http or https/, entry);
    }
  });

  it('refuses credentials without repeating them', () => {
    const problem = problemOf('https://user:hunter2@github.com/acme');
    assert.match(problem, /credentials/);
    assert.ok(!problem.includes('hunter2') && !problem.includes('user'), problem);
    assert.match(problemOf('https://token@github.com/'), /credentials/);
  });

  it('refuses a query or a fragment, even an empty one', () => {
    for (const entry of ['https://github.com/?org=acme', 'https://github.com/#acme', 'https://github.com/acme?', 'https://github.com/acme#']) {
      assert.match(problemOf(entry), /query or fragment/, entry);
    }
  });
});

describe('isAllowedRepoUrl (issue #8)', () => {
  it('the default prefix admits GitHub repositories', () => {
    const allowed = prefixes('https://github.com/');
    assert.equal(isAllowedRepoUrl('https://github.com/acme/widgets.git', allowed), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acme/widgets', allowed), true);
  });

  it('compares the port exactly: http://127.0.0.1:4 does not admit port 46825', () => {
    const allowed = prefixes('http://127.0.0.1:4');
    assert.equal(isAllowedRepoUrl('http://127.0.0.1:46825/acme/x.git', allowed), false);
    assert.equal(isAllowedRepoUrl('http://127.0.0.1:4/acme/x.git', allowed), true);
    assert.equal(isAllowedRepoUrl('http://127.0.0.1/acme/x.git', allowed), false);
  });

  it('compares the host exactly: https://github.com does not admit github.com.evil.tld', () => {
    const allowed = prefixes('https://github.com');
    for (const repoUrl of [
      'https://github.com.evil.tld/acme/x.git',
      'https://github.com.evil.tld/',
      'https://evilgithub.com/acme/x.git',
      'https://api.github.com/acme/x.git',
      'https://github.co/acme/x.git',
    ]) {
      assert.equal(isAllowedRepoUrl(repoUrl, allowed), false, repoUrl);
    }
  });

  it('compares the scheme exactly', () => {
    assert.equal(isAllowedRepoUrl('http://github.com/acme/x.git', prefixes('https://github.com/')), false);
    assert.equal(isAllowedRepoUrl('https://127.0.0.1:4/x.git', prefixes('http://127.0.0.1:4/')), false);
  });

  it('normalises default ports on both sides', () => {
    assert.equal(isAllowedRepoUrl('https://github.com:443/acme/x.git', prefixes('https://github.com')), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acme/x.git', prefixes('https://github.com:443/')), true);
    assert.equal(isAllowedRepoUrl('http://git.example.com:80/x.git', prefixes('http://git.example.com/')), true);
    assert.equal(isAllowedRepoUrl('https://github.com:8443/acme/x.git', prefixes('https://github.com')), false);
    assert.equal(isAllowedRepoUrl('https://github.com:80/acme/x.git', prefixes('https://github.com')), false);
  });

  it('compares hosts case-insensitively, as the URL parser normalises them', () => {
    assert.equal(isAllowedRepoUrl('https://GitHub.COM/acme/x.git', prefixes('https://github.com/')), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acme/x.git', prefixes('https://GITHUB.com/')), true);
  });

  it('matches the path on segment boundaries', () => {
    const allowed = prefixes('https://github.com/acme');
    assert.equal(isAllowedRepoUrl('https://github.com/acme/x.git', allowed), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acme', allowed), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acme/', allowed), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acmeevil/x.git', allowed), false);
    assert.equal(isAllowedRepoUrl('https://github.com/acme.git', allowed), false);
    assert.equal(isAllowedRepoUrl('https://github.com/other/x.git', allowed), false);
    assert.equal(isAllowedRepoUrl('https://github.com/', allowed), false);
    // A trailing slash on the entry means the same folder.
    assert.equal(isAllowedRepoUrl('https://github.com/acme/x.git', prefixes('https://github.com/acme/')), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acmeevil/x.git', prefixes('https://github.com/acme/')), false);
  });

  it('dot segments cannot climb out of the prefix path', () => {
    const allowed = prefixes('https://github.com/acme');
    assert.equal(isAllowedRepoUrl('https://github.com/acme/../evil/x.git', allowed), false);
    assert.equal(isAllowedRepoUrl('https://github.com/acme/%2e%2e/evil/x.git', allowed), false);
    assert.equal(isAllowedRepoUrl('https://github.com/acme%2F..%2Fevil/x.git', allowed), false);
  });

  it('admits a URL under any one of several prefixes', () => {
    const allowed = prefixes('https://github.com/acme', 'http://127.0.0.1:4/');
    assert.equal(isAllowedRepoUrl('http://127.0.0.1:4/solo.git', allowed), true);
    assert.equal(isAllowedRepoUrl('https://github.com/acme/x.git', allowed), true);
    assert.equal(isAllowedRepoUrl('https://github.com/beta/x.git', allowed), false);
    assert.equal(isAllowedRepoUrl('https://github.com/acme/x.git', []), false);
  });

  it('refuses other schemes, credentials, queries, fragments and git transport tricks', () => {
    const allowed = prefixes('https://github.com/');
    for (const repoUrl of [
      'file:///etc',
      'ssh://github.com/acme/x.git',
      'git@github.com:acme/x.git',
      'ext::sh -c touch% /tmp/pwned',
      'https://user:pass@github.com/acme/x.git',
      'https://github.com@evil.example.com/x.git',
      'https://github.com/acme/x.git?ref=main',
      'https://github.com/acme/x.git#main',
      'https://github.com/acme/x.git?',
      'https://github.com\\@evil.example.com/x.git',
      'https://git\thub.com/acme/x.git',
      'https://github.com/acme/x.git\n',
      ' https://github.com/acme/x.git',
      'not a url',
      '',
    ]) {
      assert.equal(isAllowedRepoUrl(repoUrl, allowed), false, JSON.stringify(repoUrl));
    }
  });
});
