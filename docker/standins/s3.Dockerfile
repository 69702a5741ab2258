# MinIO stand-in for the deployment test (see s3-server.mjs); built by
# docker/build-standin-images.sh from a context holding this folder and
# test/fixtures/s3-server-process.ts. Node 22 runs the fixture's TypeScript as is.
ARG BASE_IMAGE
ARG BUILD_IMAGE
FROM ${BUILD_IMAGE} AS build
ARG S3RVER_VERSION
WORKDIR /s3
RUN echo '{"type":"module","private":true}' >package.json \
  && npm install --no-audit --no-fund --omit=dev "s3rver@${S3RVER_VERSION:?}" && rm -rf /root/.npm

FROM ${BASE_IMAGE}
WORKDIR /s3
COPY --from=build /s3 ./
COPY s3-server-process.ts s3-server.mjs ./
COPY mc.mjs /usr/local/bin/mc
RUN chmod 0755 /usr/local/bin/mc && mkdir -p /data
VOLUME /data
EXPOSE 9000
# s3rver encrypts ListObjectsV2 continuation tokens with DES: OpenSSL 3's legacy provider.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--openssl-legacy-provider", "--disable-warning=ExperimentalWarning", "/s3/s3-server.mjs"]
