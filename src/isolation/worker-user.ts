import type { AgentUser } from './types.js';

/**
 * No isolation: the agent runs as the worker's own user (a developer's laptop,
 * or `AGENT_ISOLATION=off`). Nothing is switched, handed over or swept here;
 * the providers' own process sweep ends what the agent started.
 */
export class WorkerUser implements AgentUser {
  readonly isolated = false;
  readonly uid = process.getuid?.() ?? -1;
  readonly gid = process.getgid?.() ?? -1;

  command(command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command, args: [...args] };
  }

  async launcher(target: string): Promise<string> {
    return target;
  }

  async handOver(): Promise<void> {}

  async adoptPath(): Promise<void> {}

  async killAll(): Promise<void> {}
}
