import { claudeCodeProvider } from './claude-code.js';
import { codexProvider } from './codex.js';
import type { Provider } from './types.js';

/** Every provider the worker knows. Adding a provider is one file plus one line here. */
const PROVIDERS: readonly Provider[] = [claudeCodeProvider, codexProvider];

export class ProviderRegistry {
  private readonly byAlias = new Map<string, Provider>();

  constructor(providers: readonly Provider[] = PROVIDERS) {
    for (const provider of providers) {
      for (const alias of [provider.name, ...provider.aliases]) this.byAlias.set(alias.toLowerCase(), provider);
    }
  }

  /** Finds a provider by any of its names, case-insensitively. */
  find(name: string): Provider | undefined {
    return this.byAlias.get(name.trim().toLowerCase());
  }

  names(): string[] {
    return [...new Set([...this.byAlias.values()].map((provider) => provider.name))];
  }

  aliases(): string[] {
    return [...this.byAlias.keys()];
  }
}
