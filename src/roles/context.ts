import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { Readiness } from '../lifecycle/readiness.js';
import type { Redactor } from '../secrets/redactor.js';
import type { SessionStore } from '../storage/types.js';

/** What every role starts from: main.ts makes it, a role module wires the rest. */
export interface RoleContext {
  config: Readonly<Config>;
  redactor: Redactor;
  logger: Logger;
  store: SessionStore;
  readiness: Readiness;
  /** Settles once the store answered (main.ts keeps trying until it does); work that needs it waits for this. */
  storeReady: Promise<void>;
}
