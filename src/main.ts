import fs from 'node:fs';
import { configSecrets, ConfigError, loadConfig } from './config/env.js';
import { IsolationUnavailableError } from './isolation/setup.js';
import { createLogger } from './logging/logger.js';
import type { RoleContext } from './roles/context.js';
import { runStandalone } from './roles/standalone.js';
import { Redactor } from './secrets/redactor.js';
import { createSessionStore } from './storage/factory.js';

/**
 * Reads the configuration, makes what every role needs (logging with the
 * redactor, the session store), and hands over to the role's own composition
 * root in src/roles. The gateway and worker roles are loaded only when chosen:
 * the standalone worker starts without the queue's libraries (BullMQ, ioredis).
 */
async function main(): Promise<void> {
  if (fs.existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const redactor = new Redactor();
  redactor.add(configSecrets(config));
  const logger = createLogger(config.logLevel, redactor);
  const store = await createSessionStore(config.storage);
  await store.init();
  const context: RoleContext = { config, redactor, logger, store };

  switch (config.role) {
    case 'standalone':
      return runStandalone(context);
    case 'gateway':
      return (await import('./roles/gateway.js')).runGateway(context);
    case 'worker':
      return (await import('./roles/worker.js')).runWorker(context);
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof IsolationUnavailableError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`ai-coding-worker failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
