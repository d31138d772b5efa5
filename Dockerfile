# Durable: one image for the worker and the operator. Durable runs as the JavaScript `npm run build` compiles; apps
# stay TypeScript, loaded by tsx (a runtime dependency) when the worker starts.
#
#   docker build -t durable .
#   docker run --init -p 9464:9464 -v durable-data:/data durable                   # the example app, on SQLite
#   docker run durable operator                                                    # what the chart's operator runs
#
# The entry point is `durable` with no subcommand: a worker Deployment passes ["worker", "<app module>"], the
# operator's Deployment ["operator"]. test/e2e/image.test.ts rebuilds the runtime stage's layout from this file's
# COPY and ENV lines and starts its entry points there.
#
# An app image is this image plus the app's modules (TypeScript or JavaScript), under /app so that its
# `import … from 'durable'` is this copy of Durable:
#
#   FROM durable:0.1.0
#   COPY shop/ /app/shop/
#   CMD ["worker", "shop/app.ts"]
#
# and the Workflow names that module: `spec: { image: registry.example.com/shop:1.0.0, app: shop/app.ts }`. An app
# with npm dependencies of its own installs them in a build stage of its own and copies shop/node_modules along.

ARG NODE_IMAGE=node:20-bookworm-slim

# Compiles Durable: src/, worker/ and operator/ to dist/. Needs the dev dependencies (typescript) but no native
# module, so no install script runs and no compiler is needed here.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY worker ./worker
COPY operator ./operator
COPY scripts/build-dashboard.mjs ./scripts/
RUN npm run build

# Production dependencies only. better-sqlite3 is native: when no prebuilt binary matches, it compiles here, so the
# compilers stay in this stage and never reach the runtime image. Same base image as the runtime: same ABI.
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# TSX_DISABLE_CACHE: a container starts with an empty /tmp, so tsx's disk cache never pays, and where /tmp is not
# writable (a read-only root filesystem) tsx's loader spins forever instead of failing.
ENV NODE_ENV=production \
    TSX_DISABLE_CACHE=1 \
    DURABLE_SQLITE_PATH=/data/durable.db \
    DURABLE_OPS_HOST=0.0.0.0 \
    DURABLE_OPS_PORT=9464
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY examples ./examples
# The embedded SQLite default writes to /data (mount a volume there); everything else is read-only to the user.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 9464
# Node handles SIGTERM itself (graceful drain); run with --init (or tini) so PID 1 also reaps zombies.
ENTRYPOINT ["node", "/app/bin/durable.mjs"]
CMD ["worker", "examples/app.ts"]
