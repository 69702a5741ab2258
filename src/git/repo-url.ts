/** What the git phase needs to know about a `github.repoUrl`. */
export interface RepoCoordinates {
  /** The last two path segments: `owner/repo` on GitHub and GitHub Enterprise. */
  owner?: string;
  repo: string;
  /** A safe folder name for the clone: the repository name without `.git`. */
  folderName: string;
}

export function parseRepoUrl(repoUrl: string): RepoCoordinates {
  const url = new URL(repoUrl);
  const segments = url.pathname
    .split('/')
    .filter((part) => part !== '')
    .map((part) => decodeURIComponent(part));
  const last = (segments.at(-1) ?? 'repo').replace(/\.git$/, '');
  const owner = segments.length >= 2 ? segments.at(-2) : undefined;
  return { owner, repo: last, folderName: safeFolderName(last) };
}

function safeFolderName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '');
  return cleaned === '' ? 'repo' : cleaned.slice(0, 100);
}

/**
 * An entry of GIT_ALLOWED_URL_PREFIXES, parsed once at start-up. Entries are
 * compared as URLs, not as strings: as a string prefix `http://127.0.0.1:4`
 * admitted port 46825 and `https://github.com` admitted `github.com.evil.tld` (issue #8).
 */
export interface AllowedUrlPrefix {
  /** The entry as the URL parser normalises it, for messages. */
  readonly href: string;
  readonly protocol: 'http:' | 'https:';
  /** Lower-case host and port as the URL parser gives them: the scheme's default port is left out. */
  readonly host: string;
  /** The entry's path without trailing slashes: `''` admits every path, `/acme` admits `/acme` and `/acme/…`. */
  readonly path: string;
}

export type ParsedUrlPrefix = { ok: true; prefix: AllowedUrlPrefix } | { ok: false; problem: string };

/** Parses one GIT_ALLOWED_URL_PREFIXES entry: an http(s) URL without credentials, query or fragment. */
export function parseAllowedUrlPrefix(entry: string): ParsedUrlPrefix {
  const refuse = (reason: string): ParsedUrlPrefix => ({ ok: false, problem: `${JSON.stringify(entry)} ${reason}` });
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return refuse('is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return refuse('must be an http or https URL');
  if (url.username || url.password) {
    // The entry itself holds a secret: name it without the credentials.
    return { ok: false, problem: `"${url.protocol}//…@${url.host}${url.pathname}" must not contain credentials` };
  }
  if (url.search || url.hash || /[?#]/.test(entry)) return refuse('must not have a query or fragment');
  return {
    ok: true,
    prefix: { href: url.href, protocol: url.protocol, host: url.host, path: url.pathname.replace(/\/+$/, '') },
  };
}

/**
 * Only plain http(s) URLs with no credentials, query, fragment, options or
 * transport helpers smuggled in, whose scheme, host and port equal a prefix's
 * and whose path is the prefix's path or below it (whole segments only).
 */
export function isAllowedRepoUrl(repoUrl: string, prefixes: readonly AllowedUrlPrefix[]): boolean {
  // The URL parser drops tabs and newlines and reads `\` as `/`; git would see the raw string.
  if (/[\u0000-\u0020\u007f\\]/.test(repoUrl) || repoUrl.includes('::') || /[?#]/.test(repoUrl)) return false;
  let url: URL;
  try {
    url = new URL(repoUrl);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  return prefixes.some(
    (prefix) =>
      url.protocol === prefix.protocol &&
      url.host === prefix.host &&
      (url.pathname === prefix.path || url.pathname.startsWith(`${prefix.path}/`)),
  );
}
