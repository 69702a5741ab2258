# ai-coding-worker container image. The worker runs as root so that it can run each job's
# agent under a uid of its own (README "Isolation"); give it only the capabilities it needs:
#   docker run --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add KILL \
#     --cap-add SETUID --cap-add SETGID --security-opt no-new-privileges …
#
# Build arguments (issue #11):
#   BASE_IMAGE   the runtime's base: Debian with Node.js 22 in /usr/local/bin. Where no
#                registry is reachable, docker/build-base-image.sh makes one with debootstrap.
#   BUILD_IMAGE  the build stage's: BASE_IMAGE with npm (default, or empty: BASE_IMAGE itself).
#   PROVIDERS    the agents the image can run: claude, codex or both (default). Each agent
#                binary is ~400 MB; a provider left out fails its jobs.
#   docker build --build-arg BASE_IMAGE=… --build-arg BUILD_IMAGE=… --build-arg PROVIDERS=claude .
ARG BASE_IMAGE=node:22-bookworm-slim
ARG BUILD_IMAGE=

FROM ${BUILD_IMAGE:-${BASE_IMAGE}} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN command -v npm >/dev/null || { echo 'BUILD_IMAGE has no npm: pass the -build image docker/build-base-image.sh prints' >&2; exit 1; }; \
  npm ci --no-audit --no-fund && rm -rf /root/.npm
COPY tsconfig.json tsconfig.client.json ./
COPY scripts ./scripts
COPY src ./src
COPY docker/prune-node-modules.sh /usr/local/bin/
# Declared here, not earlier: every variant shares the `npm ci` layer above.
ARG PROVIDERS=claude,codex
# The last step fills dist/compile-cache (src/start.ts): started with a configuration
# it refuses, the worker compiles its code, saves the compiled code and exits 78.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
  && PROVIDERS="$PROVIDERS" prune-node-modules.sh /app \
  && { PORT=fill-compile-cache node dist/main.js 2>/dev/null; test $? -eq 78; }

FROM ${BASE_IMAGE}
# docker/build-base-image.sh's base has these already; node:22-bookworm-slim does not.
RUN if ! command -v git >/dev/null || ! command -v tini >/dev/null || ! command -v setpriv >/dev/null \
      || ! command -v iptables >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends git ca-certificates tini util-linux iptables \
      && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*; \
    fi
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /workspace /data/sessions && chmod 0711 /workspace && chmod 0700 /data/sessions
# HOST is deliberately not set (issue #8): with WORKER_API_TOKEN the worker listens on
# 0.0.0.0; without one on 127.0.0.1, which nothing outside the container can reach.
# Run it with -e WORKER_API_TOKEN=…, or with -e HOST=0.0.0.0 where the network itself
# is private (the worker then warns that the API needs no token).
ENV NODE_ENV=production \
    AGENT_ISOLATION=required \
    PORT=5000 \
    WORKSPACE_DIR=/workspace \
    SESSIONS_DIR=/data/sessions
EXPOSE 5000
# bash's /dev/tcp instead of `node -e "fetch(…)"`: ~5 ms a check instead of ~95 ms, so it can
# run every second and report `healthy` within ~1 s of the worker answering.
# (Docker 25+ has --start-interval for that; the Debian engine, 20.10, rejects the flag.)
HEALTHCHECK --interval=1s --timeout=2s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-5000} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r _ code _ <&3 && [[ $code == 200 ]]"]
# tini forwards SIGTERM to the worker, which lets running jobs finish (SHUTDOWN_GRACE_MS) and saves them.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
