#!/usr/bin/env bash
# One command: Temporal dev server + worker + the lab + the migration, with an
# availability probe through the VIP and a check of the "after" state.
#   npm run demo            # you approve each checkpoint (the commands are printed)
#   npm run demo -- --yes   # unattended: checkpoints approved automatically
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $(id -u) -eq 0 ]] || { echo "the demo needs root (network namespaces for the lab)" >&2; exit 1; }
[[ -d node_modules && -x /usr/local/bin/temporal ]] || bash scripts/setup.sh
exec node --import tsx src/demo/run.ts "$@"
