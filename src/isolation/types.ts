import { z } from 'zod';

/**
 * The identity a job's agent runs under. With isolation, every process of a
 * job (the agent CLI, the shells it starts, the job's git commands) runs as a
 * uid of its own, taken from a pool with one uid per job slot; without it, as
 * the worker's own user. One interface, two implementations:
 * `separate-user.ts` and `worker-user.ts`.
 */
export interface AgentUser {
  /** True when the agent runs under a uid of its own, not the worker's. */
  readonly isolated: boolean;
  readonly uid: number;
  readonly gid: number;
  /** The argv that runs `command args` as this user (unchanged without isolation). */
  command(command: string, args: readonly string[]): { command: string; args: string[] };
  /**
   * An executable that runs `target` with its arguments as this user, for SDKs
   * that spawn their binary themselves and only let us choose its path.
   */
  launcher(target: string): Promise<string>;
  /** Gives `dir` and everything below it to this user (symlinks are not followed). */
  handOver(dir: string): Promise<void>;
  /** Gives each existing folder from below `base` down to `target` to this user. */
  adoptPath(base: string, target: string): Promise<void>;
  /**
   * Kills every process running as this user — double-forked, `setsid`, with a
   * cleared environment, whatever it is. Without isolation there is no such
   * handle and this does nothing (the providers' own sweep applies).
   */
  killAll(): Promise<void>;
}

/** What `/health` reports and start-up logs about the isolation in force. */
export const isolationStatusSchema = z.object({
  mode: z.enum(['uid', 'none']),
  /** The uids this worker's slots use (isolation on). */
  uids: z.array(z.number().int()).optional(),
  /** Why jobs run as the worker's own user (isolation off). */
  reason: z.string().optional(),
});
export type IsolationStatus = z.infer<typeof isolationStatusSchema>;
