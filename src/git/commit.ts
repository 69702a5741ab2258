import type { GitClient } from './git-client.js';
import { generateBounded, type GenerateText } from './naming.js';

/** One staged change, from `git diff --cached --name-status`. */
export interface FileChange {
  status: 'added' | 'modified' | 'deleted' | 'renamed' | 'other';
  path: string;
  from?: string;
}

const MAX_SUBJECT = 72;
const MAX_DIFF_FOR_PROMPT = 12_000;
const MAX_BODY_FILES = 30;

/** Stages everything in the repository and lists the staged changes. */
export async function stageAll(git: GitClient, repoDir: string): Promise<FileChange[]> {
  await git.check('git add', ['add', '--all'], { cwd: repoDir });
  const output = await git.check('git diff', ['diff', '--cached', '--name-status', '-z', '-M', '--no-ext-diff'], {
    cwd: repoDir,
  });
  return parseNameStatus(output);
}

function parseNameStatus(output: string): FileChange[] {
  const parts = output.split('\0').filter((part) => part !== '');
  const changes: FileChange[] = [];
  for (let i = 0; i < parts.length; ) {
    const code = parts[i++] ?? '';
    if (code.startsWith('R') || code.startsWith('C')) {
      const from = parts[i++] ?? '';
      const to = parts[i++] ?? '';
      changes.push({ status: code.startsWith('R') ? 'renamed' : 'added', path: to, from });
    } else {
      const file = parts[i++] ?? '';
      const status = code === 'A' ? 'added' : code === 'M' ? 'modified' : code === 'D' ? 'deleted' : 'other';
      changes.push({ status, path: file });
    }
  }
  return changes;
}

/**
 * A commit message for the staged diff: from the model when it answers in
 * time, else a summary of the changed files. Never throws.
 */
export async function generateCommitMessage(
  git: GitClient,
  repoDir: string,
  changes: readonly FileChange[],
  requestText: string,
  generateText: GenerateText | undefined,
): Promise<{ message: string; source: 'model' | 'fallback' }> {
  const fallback = fallbackCommitMessage(changes);
  if (!generateText) return { message: fallback, source: 'fallback' };
  // --no-ext-diff / --no-textconv: diff drivers come from repository config, which the agent controls.
  const diff = await git.run(['diff', '--cached', '--stat', '--patch', '--no-color', '--no-ext-diff', '--no-textconv'], {
    cwd: repoDir,
  });
  const prompt = [
    'Write a git commit message for the diff below.',
    'First line: imperative summary, at most 72 characters. Optionally a blank line and a short body.',
    'Answer with the message only, no code fences, no preamble.',
    '',
    `The change was requested as: ${requestText.slice(0, 500)}`,
    '',
    diff.stdout.slice(0, MAX_DIFF_FOR_PROMPT),
  ].join('\n');
  const answer = await generateBounded(generateText, prompt);
  const message = answer === undefined ? undefined : cleanCommitMessage(answer);
  return message ? { message, source: 'model' } : { message: fallback, source: 'fallback' };
}

function cleanCommitMessage(answer: string): string | undefined {
  const lines = answer
    .replace(/^\s*```[a-z]*\s*$/gim, '')
    .trim()
    .split('\n')
    .map((line) => line.trimEnd());
  const subject = (lines[0] ?? '').replace(/^(commit message|subject):\s*/i, '').trim();
  if (subject === '') return undefined;
  const body = lines.slice(1).join('\n').trim();
  return body === '' ? truncate(subject, MAX_SUBJECT) : `${truncate(subject, MAX_SUBJECT)}\n\n${body}`;
}

/** "Update src/a.ts" or "Update 3 files: a.ts, b.ts, c.ts", with one line per file in the body. */
export function fallbackCommitMessage(changes: readonly FileChange[]): string {
  if (changes.length === 0) return 'Update files';
  const verb = (change: FileChange): string =>
    ({ added: 'Add', modified: 'Update', deleted: 'Delete', renamed: 'Rename', other: 'Change' })[change.status];
  const describe = (change: FileChange): string =>
    change.status === 'renamed' && change.from ? `${verb(change)} ${change.from} to ${change.path}` : `${verb(change)} ${change.path}`;
  if (changes.length === 1) return truncate(describe(changes[0]!), MAX_SUBJECT);
  const verbs = new Set(changes.map(verb));
  const lead = verbs.size === 1 ? [...verbs][0]! : 'Update';
  const names = changes.map((change) => change.path.split('/').pop() ?? change.path);
  const subject = truncate(`${lead} ${changes.length} files: ${names.join(', ')}`, MAX_SUBJECT);
  const listed = changes.slice(0, MAX_BODY_FILES).map((change) => `- ${describe(change)}`);
  if (changes.length > MAX_BODY_FILES) listed.push(`- … and ${changes.length - MAX_BODY_FILES} more`);
  return `${subject}\n\n${listed.join('\n')}`;
}

/** Commits the index with the job's author identity (set in the git environment); returns the hash. */
export async function commitStaged(git: GitClient, repoDir: string, message: string): Promise<string> {
  await git.check('git commit', ['commit', '--no-verify', '--no-gpg-sign', '--quiet', '--file=-'], {
    cwd: repoDir,
    input: `${message}\n`,
  });
  return git.check('git rev-parse', ['rev-parse', 'HEAD'], { cwd: repoDir });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}
