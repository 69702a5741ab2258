/**
 * Runs every benchmark and prints Markdown for docs/benchmarks.md.
 * Usage: `npm run bench` (builds first; set BENCH_RUNS to change the repetitions).
 */
import os from 'node:os';
import { benchGit } from './git.js';
import { benchIsolation } from './isolation.js';
import { benchModelProxy } from './model-proxy.js';
import { benchModelProxyJob } from './model-proxy-job.js';
import { benchQueue } from './queue.js';
import { benchReconnect } from './reconnect.js';
import { benchStart } from './start.js';
import { benchStorage } from './storage.js';
import { benchWorkerOverhead } from './worker-overhead.js';

const sections: Array<[string, () => Promise<string>]> = [
  ['Worker overhead (issue #2)', benchWorkerOverhead],
  ['Git phases on a large repository (issue #3)', benchGit],
  ['Session archive save and restore (issue #4)', benchStorage],
  ['Agent isolation (issue #8)', benchIsolation],
  ['Start-up (issue #9)', benchStart],
  ['Queue (gateway + workers, issue #10)', benchQueue],
  ['Client reconnect (issue #9)', benchReconnect],
  ['Model proxy (issue #12)', benchModelProxy],
  ['Model proxy: a whole job (issue #12)', benchModelProxyJob],
];

console.log(`# Benchmark run ${new Date().toISOString()}`);
console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);
for (const [title, bench] of sections) {
  console.log(`## ${title}\n`);
  console.log(await bench());
  console.log('');
}
