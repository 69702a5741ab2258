import fs from 'node:fs';
import type { Logger } from 'pino';
import { configSecrets, ConfigError, loadConfig } from './config/env.js';
import { AgentNetworkUnavailableError } from './isolation/egress.js';
import { IsolationUnavailableError } from './isolation/setup.js';
import { Readiness } from './lifecycle/readiness.js';
import { retryUntilDone } from './lifecycle/retry.js';
import { createLogger } from './logging/logger.js';
import type { RoleContext } from './roles/context.js';
import { runStandalone } from './roles/standalone.js';
import { Redactor } from './secrets/redactor.js';
import { createSessionStore } from './storage/factory.js';
import type { SessionStore } from './storage/types.js';

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
  const readiness = new Readiness();
  const { ready: storeReady } = await reachStore(store, readiness, logger);
  const context: RoleContext = { config, redactor, logger, store, readiness, storeReady };

  switch (config.role) {
    case 'standalone':
      return runStandalone(context);
    case 'gateway':
      return (await import('./roles/gateway.js')).runGateway(context);
    case 'worker':
      return (await import('./roles/worker.js')).runWorker(context);
  }
}

/**
 * Prepares the store (folders, bucket). A store that answers at once makes the
 * worker ready as it starts listening; one that does not is retried with backoff
 * in the background, the worker not ready meanwhile — a worker started before its
 * MinIO waits instead of exiting and crash-looping (issue #11). Resolves once the
 * first attempt is over; `ready` once the store answered.
 */
async function reachStore(store: SessionStore, readiness: Readiness, logger: Logger): Promise<{ ready: Promise<void> }> {
  const unblock = readiness.block('the session store cannot be reached yet');
  const onRetry = (error: unknown, delayMs: number) =>
    logger.warn({ err: error, retryInMs: delayMs, storage: store.kind }, 'session store unreachable; retrying');
  const answered = await store.init().then(
    () => true,
    (error: unknown) => {
      onRetry(error, 0);
      return false;
    },
  );
  const ready = answered ? Promise.resolve() : retryUntilDone(() => store.init(), { onRetry });
  return { ready: ready.then(unblock) };
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof IsolationUnavailableError || error instanceof AgentNetworkUnavailableError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`ai-coding-worker failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
