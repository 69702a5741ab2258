#!/usr/bin/env bash
# Builds local stand-ins for the MinIO, mc and Redis images, for the deployment test
# (test/deploy) on machines that reach no image registry:
#   ai-coding-worker-standin-s3:<hash>     the repo's test S3 server (s3rver) as MinIO, with an `mc`
#   ai-coding-worker-standin-redis:<hash>  Debian's redis-server
# Both are built on the worker's own base images (docker/build-base-image.sh):
#   BASE_IMAGE=… BUILD_IMAGE=… docker/build-standin-images.sh
# The last three lines on stdout are S3_IMAGE=…, MC_IMAGE=… and REDIS_IMAGE=…, the variables
# the compose and stack files take. An image that exists is kept. Not for production:
# the S3 stand-in enforces no policies and checks no signatures (docker/standins/s3-server.mjs).
set -euo pipefail

: "${BASE_IMAGE:?set BASE_IMAGE (docker/build-base-image.sh prints it)}"
: "${BUILD_IMAGE:?set BUILD_IMAGE (docker/build-base-image.sh prints it)}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
log() { echo "build-standin-images: $*" >&2; }

# s3rver as the lockfile pins it for the test suite.
s3rver_version=$(node -p "require('$repo/package-lock.json').packages['node_modules/s3rver'].version")

context=$(mktemp -d /tmp/acw-standins.XXXXXX)
trap 'rm -rf "$context"' EXIT
cp "$here"/standins/* "$repo/test/fixtures/s3-server-process.ts" "$context/"
# The base images' ids, not their tags: a rebuilt base (build-base-image.sh --force) makes new stand-ins.
base_ids=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" "$BUILD_IMAGE")
hash=$( { cat "$context"/*; echo "$base_ids $s3rver_version"; } | sha256sum | cut -c1-8)

build() { # image dockerfile args…
  local image=$1 dockerfile=$2
  shift 2
  if docker image inspect "$image" >/dev/null 2>&1; then
    log "$image exists"
    return
  fi
  log "building $image"
  docker build --force-rm -q -t "$image" -f "$context/$dockerfile" "$@" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" "$context" >&2
}

s3=ai-coding-worker-standin-s3:$hash
redis=ai-coding-worker-standin-redis:$hash
build "$s3" s3.Dockerfile --build-arg BUILD_IMAGE="$BUILD_IMAGE" --build-arg S3RVER_VERSION="$s3rver_version"
build "$redis" redis.Dockerfile
echo "S3_IMAGE=$s3"
echo "MC_IMAGE=$s3"
echo "REDIS_IMAGE=$redis"
