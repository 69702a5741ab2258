import type { GitClient } from './git-client.js';

/**
 * Repository settings the worker keeps; everything else in `.git/config` is
 * removed before git runs with the token. The agent can write anything into
 * `.git/config` — `http.proxy`, `http.sslVerify`, `url.*.insteadOf`,
 * `include.path`, filter and merge drivers, `core.sshCommand` … — and each of
 * those could route the token (sent as an HTTP header) somewhere else or run a
 * program that sees it. An allowlist is the only list that stays complete.
 */
const KEEP = [
  /^core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|precomposeunicode|symlinks|autocrlf|eol|safecrlf|quotepath)$/,
  /^extensions\.(objectformat|partialclone)$/,
  // A remote named like a URL (`[remote "<repoUrl>"]`) would win over the URL that push and
  // fetch name, since git looks a URL up as a remote name first; `git remote add` refuses a
  // colon in a name, so only a hand-written config has one.
  /^remote\.[^\s:]+\.(url|fetch)$/,
  /^remote\.origin\.(promisor|partialclonefilter)$/,
  /^branch\.[^\s]+\.(remote|merge)$/,
  /^user\.(name|email)$/,
];

/**
 * Strips every setting outside the allowlist and points `origin` back at
 * `repoUrl`; returns the keys it removed.
 */
export async function sanitizeRepoConfig(git: GitClient, repoDir: string): Promise<string[]> {
  const listing = await git.check('git config', ['config', '--local', '--null', '--list'], { cwd: repoDir });
  const keys = new Set(
    listing
      .split('\0')
      .filter(Boolean)
      .map((entry) => entry.split('\n', 1)[0]!),
  );
  // Section and key names are case-insensitive (listed lowercase), subsections are not: match loosely, unset verbatim.
  const removed = [...keys].filter((key) => !KEEP.some((pattern) => pattern.test(key.toLowerCase())));
  for (const key of removed) {
    await git.check('git config', ['config', '--local', '--unset-all', key], { cwd: repoDir });
  }
  const origin = await git.run(['config', '--local', '--get-all', 'remote.origin.url'], { cwd: repoDir });
  if (origin.stdout.trim() !== git.repoUrl) {
    await git.check('git config', ['config', '--local', '--replace-all', 'remote.origin.url', git.repoUrl], { cwd: repoDir });
  }
  return removed;
}
