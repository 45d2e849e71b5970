#!/usr/bin/env bash
# Start (or reuse) a local Temporal dev server: SQLite-persisted so history
# survives restarts, Web UI on, cpmigrate search attributes registered.
#   scripts/dev-server.sh [start|stop|status]
# Env: CPM_STATE_DIR (default ./.cpmigrate), TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STATE="${CPM_STATE_DIR:-$PWD/.cpmigrate}"
PORT="${TEMPORAL_PORT:-7233}"
UI_PORT="${TEMPORAL_UI_PORT:-8233}"
PIDFILE="$STATE/temporal.pid"
mkdir -p "$STATE"

up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

case "${1:-start}" in
  start)
    if up; then echo "Temporal already listening on 127.0.0.1:$PORT (reusing)"; exit 0; fi
    command -v temporal >/dev/null || { echo "temporal CLI missing: run scripts/setup.sh" >&2; exit 1; }
    setsid temporal server start-dev --ip 127.0.0.1 --port "$PORT" --ui-port "$UI_PORT" \
      --db-filename "$STATE/temporal.db" --log-level warn \
      --search-attribute CpmCluster=Keyword --search-attribute CpmStep=Keyword --search-attribute CpmPendingGate=Keyword \
      >"$STATE/temporal.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 300); do up && break; sleep 0.2; done
    up || { echo "Temporal did not start; see $STATE/temporal.log" >&2; exit 1; }
    echo "Temporal dev server on 127.0.0.1:$PORT (pid $(cat "$PIDFILE")), Web UI http://127.0.0.1:$UI_PORT, db $STATE/temporal.db"
    ;;
  stop)
    if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then kill "$(cat "$PIDFILE")"; echo "stopped Temporal (pid $(cat "$PIDFILE"))"; else echo "not running"; fi
    rm -f "$PIDFILE"
    ;;
  status)
    if up; then echo "Temporal on 127.0.0.1:$PORT"; else echo "Temporal not running"; exit 1; fi
    ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
