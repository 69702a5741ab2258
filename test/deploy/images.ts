import { docker, dockerQuiet, run, type Timings } from './docker-cli.js';

export interface Images {
  base: string;
  build: string;
  worker: string;
  s3: string;
  mc: string;
  redis: string;
}

/** The worker image the test builds from this tree: Claude only (the fake model is Anthropic's). */
export const WORKER_IMAGE = 'ai-coding-worker:deploy-test';

/** `NAME=value` lines at the end of a script's stdout. */
function assignments(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split('\n')) {
    const match = /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim());
    if (match) out[match[1]!] = match[2]!;
  }
  return out;
}

/**
 * Builds what the deployment files run, as a fresh machine would: the base images
 * (debootstrap; reused when the recipe is unchanged), the worker image from this tree,
 * and the local stand-ins for MinIO, mc and Redis (no registry here). Images are kept
 * afterwards, so a second run takes seconds.
 */
export async function buildImages(timings: Timings): Promise<Images> {
  const baseOut = await timings.measure('base images (docker/build-base-image.sh)', () =>
    run('docker/build-base-image.sh', [], { showStderr: true, timeoutMs: 10 * 60_000 }),
  );
  const { BASE_IMAGE: base, BUILD_IMAGE: build } = assignments(baseOut.stdout);
  if (!base || !build) throw new Error(`docker/build-base-image.sh printed no BASE_IMAGE/BUILD_IMAGE:\n${baseOut.stdout}`);

  const previous = await docker(['image', 'inspect', '-f', '{{.Id}}', WORKER_IMAGE]).catch(() => '');
  const built = await timings.measure('worker image (docker build, PROVIDERS=claude)', () =>
    docker(
      ['build', '--force-rm', '-q', '--build-arg', `BASE_IMAGE=${base}`, '--build-arg', `BUILD_IMAGE=${build}`, '--build-arg', 'PROVIDERS=claude', '-t', WORKER_IMAGE, '.'],
      { showStderr: true, timeoutMs: 10 * 60_000 },
    ),
  );
  // The image this tag named before a rebuild is of no more use (700 MB each time the code changes).
  if (previous && !built.includes(previous)) await dockerQuiet(['rmi', previous]);

  const standIns = await timings.measure('stand-in images (docker/build-standin-images.sh)', () =>
    run('docker/build-standin-images.sh', [], { env: { BASE_IMAGE: base, BUILD_IMAGE: build }, showStderr: true, timeoutMs: 10 * 60_000 }),
  );
  const { S3_IMAGE: s3, MC_IMAGE: mc, REDIS_IMAGE: redis } = assignments(standIns.stdout);
  if (!s3 || !mc || !redis) throw new Error(`docker/build-standin-images.sh printed no image names:\n${standIns.stdout}`);
  return { base, build, worker: WORKER_IMAGE, s3, mc, redis };
}
