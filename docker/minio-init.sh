#!/bin/sh
# Run once by the `minio-init` service of docker-compose.yml, docker-compose.distributed.yml
# and swarm.yml (image minio/mc): creates the sessions bucket and a MinIO user that may use
# only that bucket, for the workers and gateways. MinIO's root account stays here: the
# agent can reach MinIO over the network (README "What isolation does not cover"), and a
# worker holding the root key would be one step from every bucket.
# Safe to run again: the bucket is kept, the policy and the user's secret are rewritten.
#
# Environment: MINIO_URL (default http://minio:9000), MINIO_ROOT_USER, MINIO_ROOT_PASSWORD,
# MINIO_BUCKET (default sessions), MINIO_WORKER_ACCESS_KEY, MINIO_WORKER_SECRET_KEY.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${MINIO_WORKER_ACCESS_KEY:?}" "${MINIO_WORKER_SECRET_KEY:?}"
url=${MINIO_URL:-http://minio:9000}
bucket=${MINIO_BUCKET:-sessions}

# MinIO may still be starting (or its name may not resolve yet).
tries=0
until mc alias set store "$url" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 120 ] || { echo "minio-init: $url did not answer in 2 minutes" >&2; exit 1; }
  sleep 1
done

mc mb --ignore-existing "store/$bucket"
# What the session store does (src/storage/s3.ts): HeadBucket, ListObjectsV2, Get/Put/Delete
# objects (conditional puts for the session lock), multipart uploads for workspace archives.
policy=/tmp/ai-coding-worker-policy.json
cat >"$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::$bucket"] },
    { "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::$bucket/*"] }
  ]
}
JSON
mc admin policy create store ai-coding-worker "$policy"
mc admin user add store "$MINIO_WORKER_ACCESS_KEY" "$MINIO_WORKER_SECRET_KEY"
# A second run finds the policy attached already, which mc reports as an error.
if ! out=$(mc admin policy attach store ai-coding-worker --user "$MINIO_WORKER_ACCESS_KEY" 2>&1); then
  case $out in
    *'already in effect'*) ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
fi
echo "$out"
echo "minio-init: bucket $bucket and user $MINIO_WORKER_ACCESS_KEY ready"
