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
