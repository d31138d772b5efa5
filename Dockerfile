# Durable worker image: `durable worker` is the entry point (the operator will run from the same image).
# Apps and Durable are TypeScript run directly by tsx (a runtime dependency): there is no build step.
#
#   docker build -t durable .
#   docker run --init -p 9464:9464 -v durable-data:/data durable examples/app.ts
#
# A derived image adds the app:  FROM durable  COPY --chown=node:node my-app/ /app/my-app/  CMD ["my-app/app.ts"]

ARG NODE_IMAGE=node:20-bookworm-slim

# Production dependencies only. better-sqlite3 is native: when no prebuilt binary matches, it compiles here, so
# the compilers stay in this stage and never reach the runtime image. Same base image as the runtime: same ABI.
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DURABLE_SQLITE_PATH=/data/durable.db \
    DURABLE_OPS_HOST=0.0.0.0 \
    DURABLE_OPS_PORT=9464
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY worker ./worker
COPY examples ./examples
# The embedded SQLite default writes to /data (mount a volume there); everything else is read-only to the user.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 9464
# Node handles SIGTERM itself (graceful drain); run with --init (or tini) so PID 1 also reaps zombies.
ENTRYPOINT ["node", "bin/durable.mjs", "worker"]
CMD ["examples/app.ts"]
