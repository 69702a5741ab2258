import type { FastifyInstance } from 'fastify';
import { explainListenAddress } from '../config/listen-address.js';
import type { RoleContext } from './context.js';

/** Listens on PORT/HOST and logs where, with what the role wants to add. */
export async function listen(app: FastifyInstance, { config, logger, store }: RoleContext, details: object): Promise<void> {
  const listenAddress = explainListenAddress(config);
  if (listenAddress.warning) logger.warn({ host: config.host }, listenAddress.warning);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  logger.info(
    {
      url: `http://${shownHost}:${port}`,
      address: typeof address === 'object' && address ? address.address : config.host,
      reason: listenAddress.reason,
      role: config.role,
      storage: store.kind,
      ...details,
    },
    'worker listening',
  );
}

/**
 * Runs `stop` once on SIGTERM/SIGINT (or when a role asks), then exits with its code.
 * Returns the function that stops the process.
 */
export function stopOnSignals(
  { logger }: RoleContext,
  stop: (reason: string) => Promise<void>,
): (reason: string, exitCode?: number) => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stopProcess = (reason: string, exitCode = 0) => {
    stopping ??= (async () => {
      logger.info({ reason }, 'worker stopping');
      await stop(reason);
      logger.info({ reason }, 'worker stopped');
      logger.flush();
      process.exit(exitCode);
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void stopProcess('SIGTERM'));
  process.once('SIGINT', () => void stopProcess('SIGINT'));
  return stopProcess;
}
