#!/usr/bin/env bash
# Quick start: a local Temporal dev server (SQLite, Web UI) and a cpmigrate worker.
#   npm run dev        (Ctrl-C stops the worker; the server keeps running: scripts/dev-server.sh stop)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d node_modules && -x /usr/local/bin/temporal ]] || bash scripts/setup.sh
bash scripts/dev-server.sh start
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:${TEMPORAL_PORT:-7233}}"
echo "Starting the cpmigrate worker (task queue cpmigrate) against $TEMPORAL_ADDRESS"
exec node --import tsx src/worker.ts
