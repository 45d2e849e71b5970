# The cpmigrate worker (and CLI) image: the build (dist/) on plain node, no
# TypeScript, tsx, lab, demo or tests inside.
#   docker build -t cpmigrate .            (NODE_VERSION=24 for the previous LTS line)
# Runs as the unprivileged `node` user (uid 1000). The worker reads the SSH
# keys and kubeconfig the plan names: mount them readable by that uid, or run
# as their owner (compose: CPM_WORKER_USER=0:0 for root-owned keys).
ARG NODE_VERSION=26

# 1. compile src/ -> dist/ with the dev dependencies
FROM node:${NODE_VERSION}-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && rm -rf dist/lab dist/demo dist/chaos \
    && node dist/workflow-bundle.js dist/workflow-bundle.js

# 2. production dependencies only
FROM node:${NODE_VERSION}-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 3. the runtime
FROM node:${NODE_VERSION}-trixie-slim
ENV NODE_ENV=production
# the workflow code bundled at build time: the worker starts without webpack (src/workflow-bundle.ts)
ENV CPM_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
RUN ln -s /app/bin/cpmigrate.js /usr/local/bin/cpmigrate \
    && mkdir -p /var/backups/cpmigrate && chown node:node /var/backups/cpmigrate
USER node
CMD ["node", "dist/worker.js"]
