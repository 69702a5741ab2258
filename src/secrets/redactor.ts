/**
 * Replaces known secret strings wherever they would leave the process: log
 * lines, events, stored files. Secrets are registered while a job holds them
 * and released when it ends; the worker's own secrets stay registered.
 */
export const REDACTED = '[REDACTED]';

/** Secrets shorter than this are not matched, so that e.g. "a" does not shred every log line. */
const MIN_SECRET_LENGTH = 6;

export class Redactor {
  private readonly secrets = new Map<string, number>();
  private pattern: RegExp | undefined;

  /** Registers secrets; returns a function that releases them again. */
  add(values: Iterable<string | undefined>): () => void {
    const added: string[] = [];
    for (const value of values) {
      if (!value || value.length < MIN_SECRET_LENGTH) continue;
      for (const variant of variantsOf(value)) {
        this.secrets.set(variant, (this.secrets.get(variant) ?? 0) + 1);
        added.push(variant);
      }
    }
    this.pattern = undefined;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const variant of added) {
        const count = (this.secrets.get(variant) ?? 1) - 1;
        if (count <= 0) this.secrets.delete(variant);
        else this.secrets.set(variant, count);
      }
      this.pattern = undefined;
    };
  }

  redact(text: string): string {
    if (this.secrets.size === 0) return text;
    this.pattern ??= new RegExp(
      [...this.secrets.keys()]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|'),
      'g',
    );
    return text.replace(this.pattern, REDACTED);
  }

  /** Redacts every string inside a JSON-compatible value. */
  redactValue<T>(value: T): T {
    if (this.secrets.size === 0) return value;
    const text = JSON.stringify(value);
    const redacted = this.redact(text);
    // Every event passes here: only a value that held a secret is rebuilt.
    return redacted === text ? value : (JSON.parse(redacted) as T);
  }
}

/**
 * A secret can leave the process encoded, not only verbatim: as a JSON string
 * body (escaped), in a URL, or in base64 (e.g. HTTP basic auth).
 */
function variantsOf(secret: string): string[] {
  const variants = new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)]);
  return [...variants];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
