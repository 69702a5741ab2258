import type { Config } from '../config/env.js';
import { FsSessionStore } from './fs.js';
import type { SessionStore } from './types.js';

/** Builds the configured session store backend. */
export async function createSessionStore(storage: Config['storage']): Promise<SessionStore> {
  switch (storage.kind) {
    case 'fs':
      return new FsSessionStore(storage.sessionsDir);
    case 's3': {
      // Loaded on demand: the AWS SDK is large, and STORAGE=fs workers never need it.
      const { S3SessionStore } = await import('./s3.js');
      return new S3SessionStore({
        endpoint: storage.endpoint,
        accessKey: storage.accessKey,
        secretKey: storage.secretKey,
        useSsl: storage.useSsl,
        bucket: storage.bucket,
        encoding: storage.compression === 'br' ? 'br' : 'identity',
      });
    }
  }
}
