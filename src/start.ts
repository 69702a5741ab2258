import module from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The built worker's entry point, `dist/main.js` (scripts/build.mjs bundles
 * `src/main.ts` as `dist/worker.js`). It turns on Node's compile cache before
 * the worker's code is loaded, so that every start after the first reads V8's
 * compiled code instead of parsing the bundle again (~40 ms of a ~300 ms start,
 * issue #9). `module.enableCompileCache` exists from Node 22.1 on — the
 * container's Node; on Node 20 this file only imports the worker.
 *
 * The cache lives beside the bundle, where only the worker's own user can write:
 * V8 trusts the compiled code it is handed, so it must not sit in a /tmp that an
 * agent can write to. The Dockerfile fills it while building the image.
 */
const { enableCompileCache } = module as { enableCompileCache?: (directory: string) => unknown };
enableCompileCache?.(fileURLToPath(new URL('compile-cache', import.meta.url)));
await import('./main.js');
