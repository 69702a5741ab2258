import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import type { Redactor } from '../secrets/redactor.js';
import type { SessionStore } from '../storage/types.js';

/** What every role starts from: main.ts makes it, a role module wires the rest. */
export interface RoleContext {
  config: Readonly<Config>;
  redactor: Redactor;
  logger: Logger;
  store: SessionStore;
}
