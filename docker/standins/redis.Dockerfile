# Redis stand-in for the deployment test where no image registry is reachable:
# Debian's redis-server on the worker's base image, run like the official image
# (`redis-server …` as the command, data in /data).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# The base image dropped perl with --force-depends (docker/build-base-image.sh):
# apt wants that repaired before it installs anything.
RUN apt-get update \
  && apt-get install -y -f --no-install-recommends \
  && apt-get install -y --no-install-recommends redis-server \
  && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
  && mkdir -p /data
WORKDIR /data
VOLUME /data
EXPOSE 6379
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["redis-server", "--protected-mode", "no"]
