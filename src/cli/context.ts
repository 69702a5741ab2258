import type { WorkerClient } from '../client/index.js';
import type { CliArgs } from './args.js';
import type { CredentialEnv } from './credentials.js';

/** What every command gets from the entry point: nothing reaches for globals. */
export interface CliContext {
  args: CliArgs;
  client: WorkerClient;
  env: CredentialEnv;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  /** Registers the Ctrl-C handler of a command; returns the unregister function. */
  onInterrupt(handler: () => void): () => void;
  /** Ends the process at once (a second Ctrl-C). */
  exit(code: number): never;
}
