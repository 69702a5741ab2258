# ai-coding-worker container image. The worker runs as root so that it can run each job's
# agent under a uid of its own (README "Isolation"); give it only the capabilities it needs:
#   docker run --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add KILL \
#     --cap-add SETUID --cap-add SETGID --security-opt no-new-privileges …
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.client.json ./
COPY scripts ./scripts
COPY src ./src
# The last step fills dist/compile-cache (src/start.ts): started with a configuration
# it refuses, the worker compiles its code, saves the compiled code and exits 78.
RUN npm run build && npm prune --omit=dev \
  && { PORT=fill-compile-cache node dist/main.js 2>/dev/null; test $? -eq 78; }

FROM node:22-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends git ca-certificates tini util-linux \
  && rm -rf /var/lib/apt/lists/*
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
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||5000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# tini forwards SIGTERM to the worker, which lets running jobs finish (SHUTDOWN_GRACE_MS) and saves them.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
