// @ts-check
/**
 * Builds the worker into dist/ with esbuild (issue #9): one ESM bundle instead of
 * ~100 files compiled by tsc, so `npm start` builds in well under a second and
 * the worker starts faster. Type checking is not done here; `npm test` and
 * `npm run typecheck` run `tsc --noEmit`.
 *
 *   dist/main.js     the entry (`node dist/main.js`): src/start.ts, which turns on
 *                    Node's compile cache and imports the worker
 *   dist/worker.js   src/main.ts with everything it loads at start-up, fastify,
 *                    pino and zod included
 *   dist/chunks/     the s3 store, loaded on demand, and the code it shares with the worker
 *   dist/cli.js      the `ai-coding-worker` command (src/cli/main.ts), built on its own
 *                    so that it shares no chunk with the worker
 *
 * Every other dependency stays external, resolved from node_modules at run time:
 * the agent SDKs and the AWS SDK are large, loaded with `await import()` only by
 * the jobs and stores that need them, and must stay that way — code splitting keeps
 * the s3 store, which imports the AWS SDK statically, in a chunk of its own.
 */
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';

/**
 * Bundled: what every start loads. Only pure-JS packages that do not read their own
 * files at run time (pino would for `pino.transport()`, which the worker does not use).
 */
const BUNDLED = ['fastify', 'pino', 'zod'];

const started = performance.now();
const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
const external = Object.keys(pkg.dependencies)
  .filter((name) => !BUNDLED.includes(name))
  .flatMap((name) => [name, `${name}/*`]);

// Only what this build writes (and the source maps of earlier builds): other builds
// may put their own output in dist/.
for (const name of ['main.js', 'main.js.map', 'worker.js', 'worker.js.map', 'cli.js', 'chunks', 'compile-cache']) {
  await rm(new URL(`../dist/${name}`, import.meta.url), { recursive: true, force: true });
}

// The CLI: a bundle of its own, so that it shares no chunk with the worker.
const cli = build({
  absWorkingDir: new URL('..', import.meta.url).pathname,
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  logLevel: 'warning',
});

await build({
  absWorkingDir: new URL('..', import.meta.url).pathname,
  entryPoints: { main: 'src/start.ts', worker: 'src/main.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // Bundled CommonJS (fastify, pino) calls require() for Node's own modules.
  banner: { js: "import { createRequire as __workerRequire } from 'node:module'; const require = __workerRequire(import.meta.url);" },
  // Neither minified nor source-mapped: a stack trace names the function and a line
  // of dist/worker.js, below a `// src/…` comment that names the file. Minifying would
  // save ~10 ms of parsing at start-up (none once the compile cache holds the code),
  // and source maps cost ~150 ms of every build.
  logLevel: 'warning',
});

await cli;

console.log(`dist/ built in ${Math.round(performance.now() - started)} ms`);
