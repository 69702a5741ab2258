import { createHash } from 'node:crypto';

/** A session's human title and the slug its branch is named after. */
export interface SessionName {
  title: string;
  slug: string;
  /** Where the name came from, for the progress message. */
  source: 'model' | 'fallback';
}

/** The LLM text generator the job runner may pass in; may be missing, slow or failing. */
export type GenerateText = (prompt: string) => Promise<string>;

/** How long a naming or commit-message call may take before the fallback is used. */
export const GENERATE_TIMEOUT_MS = 10_000;

const MAX_TITLE = 60;
const MAX_SLUG = 40;
const STOP_WORDS = new Set([
  'a', 'an', 'the', 'and', 'or', 'to', 'of', 'in', 'on', 'for', 'with', 'please', 'can', 'you', 'could',
  'would', 'i', 'we', 'me', 'my', 'our', 'is', 'it', 'this', 'that', 'be', 'so', 'some', 'into', 'at',
]);

/**
 * Asks the model for a title and slug, bounded in time; any failure (no
 * generator, timeout, exception, unusable answer) falls back to a name built
 * from the request text. Never throws.
 */
export async function nameSession(
  requestText: string,
  generateText: GenerateText | undefined,
  timeoutMs = GENERATE_TIMEOUT_MS,
): Promise<SessionName> {
  const fallback = fallbackName(requestText);
  const answer = await generateBounded(generateText, namingPrompt(requestText), timeoutMs);
  if (answer === undefined) return fallback;
  const parsed = parseNameAnswer(answer);
  if (!parsed) return fallback;
  return { title: parsed.title, slug: parsed.slug || fallback.slug, source: 'model' };
}

/** Runs the generator with a timeout; resolves undefined on any failure. */
export async function generateBounded(
  generateText: GenerateText | undefined,
  prompt: string,
  timeoutMs = GENERATE_TIMEOUT_MS,
): Promise<string | undefined> {
  if (!generateText) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const call = Promise.resolve()
      .then(() => generateText(prompt))
      .catch(() => undefined);
    const answer = await Promise.race([call, timeout]);
    return typeof answer === 'string' && answer.trim() !== '' ? answer : undefined;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function namingPrompt(requestText: string): string {
  return [
    'Name a coding session from the request below.',
    'Answer with JSON only: {"title": "<3-8 word title, plain text>", "slug": "<2-5 lowercase words joined by hyphens>"}',
    '',
    'Request:',
    requestText.slice(0, 2_000),
  ].join('\n');
}

function parseNameAnswer(answer: string): { title: string; slug: string } | undefined {
  const json = answer.match(/\{[\s\S]*\}/)?.[0];
  if (!json) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const title = typeof record.title === 'string' ? cleanTitle(record.title) : '';
  if (title === '') return undefined;
  const slug = slugify(typeof record.slug === 'string' && record.slug.trim() !== '' ? record.slug : title);
  return { title, slug };
}

/** A deterministic name from the request: its first line as title, its first significant words as slug. */
export function fallbackName(requestText: string): SessionName {
  const title = cleanTitle(requestText) || 'Untitled session';
  const words = title
    .toLowerCase()
    .replace(/[^a-z0-9\s-]/g, ' ')
    .split(/[\s-]+/)
    .filter((word) => word !== '' && !STOP_WORDS.has(word))
    .slice(0, 5);
  return { title, slug: slugify(words.join('-')) || 'session', source: 'fallback' };
}

function cleanTitle(text: string): string {
  const line = (text.split('\n').find((part) => part.trim() !== '') ?? '')
    .replace(/[`"*#]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (line.length <= MAX_TITLE) return line;
  const cut = line.slice(0, MAX_TITLE - 1);
  const atWord = cut.lastIndexOf(' ') > 20 ? cut.slice(0, cut.lastIndexOf(' ')) : cut;
  return `${atWord.trimEnd()}…`;
}

/** Lowercase ASCII words joined by single hyphens, safe inside a branch name. */
export function slugify(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slug.length <= MAX_SLUG) return slug;
  const cut = slug.slice(0, MAX_SLUG);
  return (cut.lastIndexOf('-') > 10 ? cut.slice(0, cut.lastIndexOf('-')) : cut).replace(/-+$/, '');
}

/** 8 characters identifying the session: a UUID's first block, else a hash of the id. */
export function shortSessionId(sessionId: string): string {
  const uuidStart = sessionId.match(/^[0-9a-f]{8}(?=-|$)/i)?.[0];
  if (uuidStart) return uuidStart.toLowerCase();
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 8);
}

/** `<provider-prefix>/<slug>-<short id>`, e.g. `claude/add-error-handling-1a2b3c4d`. */
export function sessionBranchName(providerPrefix: string, slug: string, sessionId: string): string {
  const prefix = slugify(providerPrefix) || 'agent';
  const body = slugify(slug) || 'session';
  return `${prefix}/${body}-${shortSessionId(sessionId)}`;
}
