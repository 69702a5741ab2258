/**
 * Branch names that come from a request (`github.branch`, `pullRequest.base`),
 * checked before anything runs with git's own rules (`git check-ref-format
 * --branch`, see git-check-ref-format(1)), so a bad name is a 400 naming the
 * field instead of a job that fails inside git (issue #8).
 */

/**
 * The longest accepted name, in UTF-8 bytes. git sets no limit on a whole ref
 * name; 255 keeps a name usable as one file name and in every tool and
 * hosting service that assumes so.
 */
export const BRANCH_NAME_MAX_BYTES = 255;

/**
 * The longest `/`-separated part. While updating a ref git creates the file
 * `<part>.lock` beside it, and a file name has at most 255 bytes (NAME_MAX):
 * a longer part passes `check-ref-format` but `git branch` fails on it.
 */
export const BRANCH_NAME_PART_MAX_BYTES = 255 - '.lock'.length;

/** ASCII control characters, space, DEL, and what git reserves for revision syntax and globs. */
const FORBIDDEN_CHARACTERS = /[\u0000-\u0020\u007f~^:?*[\\]/;

/** Why `name` is not a valid branch name, as the end of a sentence about the field; undefined when it is valid. */
export function branchNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  const bytes = Buffer.byteLength(name);
  if (bytes > BRANCH_NAME_MAX_BYTES) return `must be at most ${BRANCH_NAME_MAX_BYTES} bytes long (it has ${bytes})`;
  if (FORBIDDEN_CHARACTERS.test(name)) {
    return 'must not contain spaces, control characters or any of ~ ^ : ? * [ \\';
  }
  // A leading "-" would read as an option; "HEAD" and "@" name the current commit, not a branch.
  if (name.startsWith('-')) return 'must not start with "-"';
  if (name === 'HEAD' || name === '@') return `must not be "${name}"`;
  if (name.includes('..') || name.includes('@{')) return 'must not contain ".." or "@{"';
  if (name.endsWith('.')) return 'must not end with "."';
  for (const part of name.split('/')) {
    if (part === '') return 'must not start or end with "/" or contain "//"';
    if (part.startsWith('.')) return 'must not have a "/"-separated part that starts with "."';
    if (part.endsWith('.lock')) return 'must not have a "/"-separated part that ends with ".lock"';
    if (Buffer.byteLength(part) > BRANCH_NAME_PART_MAX_BYTES) {
      return `must not have a "/"-separated part longer than ${BRANCH_NAME_PART_MAX_BYTES} bytes`;
    }
  }
  return undefined;
}
