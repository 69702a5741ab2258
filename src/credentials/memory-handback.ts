import { checkHandbackTtl, type CredentialHandback, type HandbackCredentials } from './handback.js';

/**
 * The handback of a single process (standalone role): the client asks the same worker that
 * refreshed. Each entry has its own timer, unref'd so a waiting handback never keeps the
 * process alive.
 */
export class MemoryHandback implements CredentialHandback {
  private readonly entries = new Map<string, { credentials: HandbackCredentials; timer: NodeJS.Timeout }>();
  private readonly ttlMs: number;

  constructor(ttlMs: number) {
    this.ttlMs = checkHandbackTtl(ttlMs);
  }

  async put(sessionId: string, credentials: HandbackCredentials): Promise<void> {
    this.forget(sessionId);
    const timer = setTimeout(() => this.forget(sessionId), this.ttlMs);
    timer.unref();
    // A copy: the caller's object may change after it was handed over.
    this.entries.set(sessionId, { credentials: { ...credentials }, timer });
  }

  async take(sessionId: string): Promise<HandbackCredentials | undefined> {
    const entry = this.entries.get(sessionId);
    if (!entry) return undefined;
    this.forget(sessionId);
    return entry.credentials;
  }

  close(): void {
    for (const sessionId of [...this.entries.keys()]) this.forget(sessionId);
  }

  private forget(sessionId: string): void {
    const entry = this.entries.get(sessionId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(sessionId);
  }
}
