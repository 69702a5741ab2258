import type { Config } from './env.js';

export interface ListenExplanation {
  /** Why the worker listens on `config.host`, for the "worker listening" line. */
  reason: string;
  /** Set when the API can be reached from other machines without a token. */
  warning?: string;
}

/**
 * Says at start-up where the worker listens and why. Without WORKER_API_TOKEN
 * anyone who reaches the port can run code, so that default is loopback only
 * (issue #8); an explicit HOST is honoured, with a warning when it is not loopback.
 */
export function explainListenAddress(config: Pick<Config, 'host' | 'hostSource' | 'apiToken'>): ListenExplanation {
  switch (config.hostSource) {
    case 'default-without-token':
      return {
        reason:
          'no WORKER_API_TOKEN, so only this machine (in a container: only the container) can reach the API; set WORKER_API_TOKEN, or HOST, to listen on other interfaces',
      };
    case 'default-with-token':
      return { reason: 'WORKER_API_TOKEN is set, so every interface is used and requests need the token' };
    case 'HOST':
      return config.apiToken !== undefined || isLoopback(config.host)
        ? { reason: 'HOST is set' }
        : {
            reason: 'HOST is set',
            warning: `HOST=${config.host} without WORKER_API_TOKEN: the API, which runs code, is reachable without a token from every host that can reach this address`,
          };
  }
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(bare);
}
