/**
 * A MinIO stand-in for the deployment test (issue #11), where no image registry
 * is reachable: the repo's test S3 server (test/fixtures/s3-server-process.ts:
 * s3rver plus the conditional writes and aws-chunked decoding the worker's store
 * needs) on 0.0.0.0:9000, keeping its objects in /data/buckets.
 *
 * What it takes from MinIO's interface, so the deployment files run unchanged:
 * MINIO_ROOT_USER / MINIO_ROOT_PASSWORD (default minioadmin), `GET /minio/health/live`,
 * and users added by the `mc` stand-in (mc.mjs), kept in /data/users.json.
 *
 * What it cannot do: s3rver checks only that an access key id is known (it does
 * not verify v4 signatures, so a wrong secret passes), lets requests without any
 * credentials through, and has no policies, so a bucket-scoped user is not
 * enforced here. Never use it outside a test.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

const DATA = process.env.S3_STANDIN_DATA ?? '/data';
const USERS_FILE = `${DATA}/users.json`;
const root = { user: process.env.MINIO_ROOT_USER || 'minioadmin', password: process.env.MINIO_ROOT_PASSWORD || 'minioadmin' };

/** @type {Record<string, string>} access key id → secret */
const users = fs.existsSync(USERS_FILE) ? JSON.parse(fs.readFileSync(USERS_FILE, 'utf8')) : {};
DUMMY_ACCOUNT.createKeyPair(root.user, root.password);
for (const [key, secret] of Object.entries(users)) DUMMY_ACCOUNT.createKeyPair(key, secret);

function isRoot(ctx) {
  const [scheme, encoded = ''] = String(ctx.get('authorization')).split(' ');
  return scheme === 'Basic' && Buffer.from(encoded, 'base64').toString('utf8') === `${root.user}:${root.password}`;
}

/** MinIO's liveness route, and the admin routes mc.mjs calls (under a path no bucket name can take). */
async function standInRoutes(ctx, next) {
  if (ctx.path === '/minio/health/live' || ctx.path === '/minio/health/ready') {
    ctx.status = 200;
    return;
  }
  if (!ctx.path.startsWith('/_standin/')) return next();
  if (!isRoot(ctx)) {
    ctx.status = 403;
    ctx.body = 'root credentials required';
    return;
  }
  const user = /^\/_standin\/users\/([^/]+)$/.exec(ctx.path);
  if (ctx.method === 'GET' && ctx.path === '/_standin/whoami') {
    ctx.body = root.user;
  } else if (ctx.method === 'PUT' && user) {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const key = decodeURIComponent(user[1]);
    users[key] = Buffer.concat(chunks).toString('utf8');
    DUMMY_ACCOUNT.createKeyPair(key, users[key]);
    fs.writeFileSync(`${USERS_FILE}.tmp`, JSON.stringify(users));
    fs.renameSync(`${USERS_FILE}.tmp`, USERS_FILE);
    ctx.status = 204;
  } else {
    ctx.status = 404;
  }
}

/**
 * s3rver as the fixture constructs it, but on every interface (the fixture listens on
 * 127.0.0.1, right for tests on one host) and path-style only: with virtual-host
 * buckets on, s3rver takes a host name such as `minio` for a bucket name.
 */
class StandInS3rver extends S3rver {
  constructor(options) {
    super({ ...options, address: '0.0.0.0', vhostBuckets: false });
    // Before s3rver's own routes; the fixture puts its middleware before these.
    this.middleware.unshift(standInRoutes);
  }
}
require.cache[require.resolve('s3rver')].exports = StandInS3rver;

fs.mkdirSync(`${DATA}/buckets`, { recursive: true });
process.argv[2] = JSON.stringify({ port: 9000, directory: `${DATA}/buckets`, buckets: [] });
await import('./s3-server-process.ts');
console.log(`s3 stand-in listening on 0.0.0.0:9000; root user ${root.user}; ${Object.keys(users).length} other user(s)`);
