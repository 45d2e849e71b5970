#!/usr/bin/env bash
# The production Temporal stack of docker-compose.yml without Docker, on this machine:
# PostgreSQL (Debian's) on loopback with its own data dir, run as the `postgres` user;
# the Temporal server built from the Go module (scripts/build-temporal.sh, cached per
# version) started with the same configuration as compose's `temporal` service (the
# server's embedded config template, driven by the same environment variables); the
# schemas and the namespace + search attributes set up by the same scripts compose
# runs (deploy/temporal/setup-schema.sh, deploy/temporal/setup-namespace.sh), with the
# values from .env. Every process is started with setsid and stopped by its pid.
#
#   scripts/temporal-cluster.sh up        build/reuse the server, start PostgreSQL, create+migrate
#                                         the schemas, start the server, register namespace + search attributes
#   scripts/temporal-cluster.sh down [--purge]   stop both (--purge: also delete the data dir)
#   scripts/temporal-cluster.sh status    what runs, with pids; exit 1 if something is down
#   scripts/temporal-cluster.sh env       the client settings (TEMPORAL_* for cpmigrate and the temporal CLI)
#   scripts/temporal-cluster.sh server-env   the environment the server is started with
#   scripts/temporal-cluster.sh server-start | server-stop [--kill]
#   scripts/temporal-cluster.sh postgres-start | postgres-stop [--immediate]
#
# Settings (environment; `up` records them in $CPM_TC_DIR/cluster.env, later commands reuse them):
#   CPM_TC_DIR         state dir (default /var/lib/cpmigrate-temporal): pg/ data, logs, pid files
#   CPM_TC_PORT_BASE   use BASE..BASE+9 for frontend gRPC, frontend HTTP, the membership and
#                      service ports and PostgreSQL (default: the standard 7233, 7243, 6933, ..., 5432)
#   CPM_TC_TLS_DIR     mTLS on the frontend (and internode): a dir with ca.pem, server.pem,
#                      server-key.pem (serverAuth+clientAuth, SANs localhost and 127.0.0.1) and
#                      client.pem, client-key.pem (used by this script's CLI calls)
#   POSTGRES_PASSWORD  database password (default temporal, as in docker-compose.yml)
#   CPM_TC_BIN         dir with temporal-server and temporal-sql-tool (default: scripts/build-temporal.sh)
#   CPM_TC_PG_BIN      PostgreSQL's bin dir (default: the newest /usr/lib/postgresql/*/bin)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CPM_TC_DIR:-/var/lib/cpmigrate-temporal}"
SAVED="$DIR/cluster.env"
log() { printf '[temporal-cluster] %s\n' "$*" >&2; }
die() { printf '[temporal-cluster] ERROR: %s\n' "$*" >&2; exit 1; }

CMD="${1:-}"; shift || true

# Settings: recorded by `up`; any other command reuses the recorded ones.
if [[ "$CMD" != up && -f "$SAVED" ]]; then
  # shellcheck disable=SC1090
  source "$SAVED"
fi
# The stack's source of truth (versions, namespace, search attributes).
set -a
# shellcheck disable=SC1091
source "$ROOT/.env"
set +a

BASE="${CPM_TC_PORT_BASE:-}"
# The server stores membership ports in a SMALLINT column (cluster_membership.rpc_port):
# a port above 32767 makes it exit with "value ... is out of range for type smallint".
if [[ -n "$BASE" ]] && ! [[ "$BASE" =~ ^[0-9]+$ && "$BASE" -ge 1024 && $((BASE + 9)) -le 32767 ]]; then
  die "CPM_TC_PORT_BASE=$BASE: need 1024 <= BASE and BASE+9 <= 32767 (Temporal keeps membership ports in a SMALLINT)"
fi
port() { if [[ -n "$BASE" ]]; then echo $((BASE + $1)); else echo "$2"; fi; }
FRONTEND_PORT="$(port 0 7233)"
PG_PORT="$(port 9 5432)"
PG_PASSWORD="${POSTGRES_PASSWORD:-temporal}"
TLS_DIR="${CPM_TC_TLS_DIR:-}"
PGDATA="$DIR/pg"
PG_PIDFILE="$PGDATA/postmaster.pid"
SERVER_PIDFILE="$DIR/server.pid"

pg_bin() {
  if [[ -n "${CPM_TC_PG_BIN:-}" ]]; then echo "$CPM_TC_PG_BIN"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -x "$d/postgres" ]] || die "PostgreSQL not found under /usr/lib/postgresql (scripts/setup.sh installs Debian's postgresql)"
  echo "$d"
}

temporal_bin() {
  if [[ -n "${CPM_TC_BIN:-}" ]]; then echo "$CPM_TC_BIN"; return; fi
  bash "$ROOT/scripts/build-temporal.sh"
}

# The environment the server runs with: the variables of compose's `temporal` service
# (the server's embedded config template reads them), with loopback addresses.
server_env() {
  cat <<EOF
DB=$CPM_TEMPORAL_DB_PLUGIN
DB_PORT=$PG_PORT
POSTGRES_USER=temporal
POSTGRES_PWD=$PG_PASSWORD
POSTGRES_SEEDS=127.0.0.1
BIND_ON_IP=127.0.0.1
DYNAMIC_CONFIG_FILE_PATH=$ROOT/deploy/temporal/dynamicconfig.yaml
FRONTEND_GRPC_PORT=$FRONTEND_PORT
FRONTEND_HTTP_PORT=$(port 1 7243)
FRONTEND_MEMBERSHIP_PORT=$(port 2 6933)
HISTORY_GRPC_PORT=$(port 3 7234)
HISTORY_MEMBERSHIP_PORT=$(port 4 6934)
MATCHING_GRPC_PORT=$(port 5 7235)
MATCHING_MEMBERSHIP_PORT=$(port 6 6935)
WORKER_GRPC_PORT=$(port 7 7239)
WORKER_MEMBERSHIP_PORT=$(port 8 6939)
EOF
  if [[ -n "$TLS_DIR" ]]; then
    cat <<EOF
TEMPORAL_TLS_REQUIRE_CLIENT_AUTH=true
TEMPORAL_TLS_SERVER_CA_CERT=$TLS_DIR/ca.pem
TEMPORAL_TLS_SERVER_CERT=$TLS_DIR/server.pem
TEMPORAL_TLS_SERVER_KEY=$TLS_DIR/server-key.pem
TEMPORAL_TLS_INTERNODE_SERVER_NAME=localhost
TEMPORAL_TLS_FRONTEND_CERT=$TLS_DIR/server.pem
TEMPORAL_TLS_FRONTEND_KEY=$TLS_DIR/server-key.pem
TEMPORAL_TLS_CLIENT1_CA_CERT=$TLS_DIR/ca.pem
TEMPORAL_TLS_CLIENT2_CA_CERT=$TLS_DIR/ca.pem
TEMPORAL_TLS_FRONTEND_SERVER_NAME=localhost
EOF
  fi
}

# What a client needs: cpmigrate's variables (src/temporal-config.ts) and the temporal CLI's.
client_env() {
  echo "TEMPORAL_ADDRESS=127.0.0.1:$FRONTEND_PORT"
  echo "TEMPORAL_NAMESPACE=$CPM_TEMPORAL_NAMESPACE"
  if [[ -n "$TLS_DIR" ]]; then
    echo "TEMPORAL_TLS_CLIENT_CERT_PATH=$TLS_DIR/client.pem"
    echo "TEMPORAL_TLS_CLIENT_KEY_PATH=$TLS_DIR/client-key.pem"
    echo "TEMPORAL_TLS_SERVER_CA_CERT_PATH=$TLS_DIR/ca.pem"
    echo "TEMPORAL_TLS_SERVER_NAME=localhost"
  fi
}

with_client_env() {
  local -a kv
  mapfile -t kv < <(client_env)
  env -u TEMPORAL_TLS_CERT -u TEMPORAL_TLS_KEY -u TEMPORAL_TLS_CA -u TEMPORAL_API_KEY "${kv[@]}" "$@"
}

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pg_pid() { [[ -f "$PG_PIDFILE" ]] && head -1 "$PG_PIDFILE" || true; }
server_pid() { [[ -f "$SERVER_PIDFILE" ]] && cat "$SERVER_PIDFILE" || true; }

wait_gone() { # pid seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do alive "$1" || return 0; sleep 0.1; done
  return 1
}

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

postgres_start() {
  local bin pid i
  bin="$(pg_bin)"
  id postgres >/dev/null 2>&1 || die "no 'postgres' user (install Debian's postgresql package)"
  pid="$(pg_pid)"
  if alive "$pid"; then log "PostgreSQL already running (pid $pid)"; return 0; fi
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    log "initdb $PGDATA (superuser temporal, password auth on 127.0.0.1)"
    install -d -o postgres -g postgres -m 700 "$PGDATA"
    local pw="$DIR/.pgpass-init"
    printf '%s\n' "$PG_PASSWORD" >"$pw"; chown postgres "$pw"; chmod 600 "$pw"
    as_postgres "$bin/initdb" -D "$PGDATA" -U temporal --pwfile="$pw" --auth-local=peer --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { rm -f "$pw"; cat "$DIR/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pw"
  fi
  install -d -o postgres -g postgres -m 755 "$DIR/pgsock"
  touch "$DIR/postgres.log"; chown postgres "$DIR/postgres.log"
  # setsid: a test's process group kill does not reach it; stopped by pid (postmaster.pid)
  as_postgres setsid "$bin/postgres" -D "$PGDATA" -c listen_addresses=127.0.0.1 -c port="$PG_PORT" \
    -c unix_socket_directories="$DIR/pgsock" -c max_connections=200 -c fsync=on \
    >>"$DIR/postgres.log" 2>&1 </dev/null &
  for ((i = 0; i < 300; i++)); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.1
  done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { tail -n 30 "$DIR/postgres.log" >&2; die "PostgreSQL did not accept connections on 127.0.0.1:$PG_PORT within 30 s"; }
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (pid $(pg_pid)), data $PGDATA"
}

postgres_stop() {
  local mode="${1:-}" pid sig=INT what=fast
  [[ "$mode" == --immediate ]] && { sig=QUIT; what=immediate; }
  pid="$(pg_pid)"
  if ! alive "$pid"; then log "PostgreSQL not running"; return 0; fi
  kill "-$sig" "$pid"
  wait_gone "$pid" 60 || die "PostgreSQL (pid $pid) did not stop within 60 s"
  log "PostgreSQL stopped ($what shutdown, pid $pid)"
}

schema() {
  local bin
  bin="$(temporal_bin)"
  DB="$CPM_TEMPORAL_DB_PLUGIN" POSTGRES_SEEDS=127.0.0.1 DB_PORT="$PG_PORT" POSTGRES_USER=temporal SQL_PASSWORD="$PG_PASSWORD" \
    TEMPORAL_SQL_TOOL="$bin/temporal-sql-tool" sh "$ROOT/deploy/temporal/setup-schema.sh" >"$DIR/schema.log" 2>&1 \
    || { tail -n 40 "$DIR/schema.log" >&2; die "schema setup failed (see $DIR/schema.log)"; }
  log "schemas created/migrated: $(grep '^setup-schema: [a-z_]* (' "$DIR/schema.log" | cut -d' ' -f2 | tr '\n' ' ')(log $DIR/schema.log)"
}

server_log_tail() { # the last error lines, without their stack traces
  grep -E '"level":"(error|fatal)"' "$DIR/server.log" | tail -n 5 | sed -E 's/,"(stacktrace|logging-call-at)":"[^"]*"//g' >&2 || true
  tail -n 3 "$DIR/server.log" | cut -c1-400 >&2
}

server_healthy() { with_client_env temporal operator cluster health 2>/dev/null | grep -q SERVING; }

server_start() {
  local bin pid i
  bin="$(temporal_bin)"
  pid="$(server_pid)"
  if alive "$pid"; then log "Temporal server already running (pid $pid)"; return 0; fi
  mkdir -p "$DIR"
  local -a kv
  mapfile -t kv < <(server_env)
  (cd "$DIR" && exec env "${kv[@]}" setsid "$bin/temporal-server" start >>"$DIR/server.log" 2>&1 </dev/null) &
  echo $! >"$SERVER_PIDFILE"
  pid="$(server_pid)"
  for ((i = 0; i < 120; i++)); do
    alive "$pid" || { server_log_tail; die "temporal-server (pid $pid) exited; see $DIR/server.log"; }
    server_healthy && break
    sleep 1
  done
  server_healthy || { server_log_tail; die "temporal-server did not answer SERVING on 127.0.0.1:$FRONTEND_PORT within 120 s"; }
  log "Temporal server $("$bin/temporal-server" --version | awk '{print $3}') on 127.0.0.1:$FRONTEND_PORT (pid $pid)${TLS_DIR:+, mTLS}, log $DIR/server.log"
}

server_stop() {
  local mode="${1:-}" pid
  pid="$(server_pid)"
  if ! alive "$pid"; then log "Temporal server not running"; rm -f "$SERVER_PIDFILE"; return 0; fi
  if [[ "$mode" == --kill ]]; then
    kill -KILL "$pid"; wait_gone "$pid" 10 || die "temporal-server (pid $pid) survived SIGKILL"
    log "Temporal server killed (SIGKILL, pid $pid)"
  else
    kill -TERM "$pid"
    if ! wait_gone "$pid" 30; then kill -KILL "$pid"; wait_gone "$pid" 10 || true; fi
    log "Temporal server stopped (pid $pid)"
  fi
  rm -f "$SERVER_PIDFILE"
}

namespace() {
  with_client_env sh "$ROOT/deploy/temporal/setup-namespace.sh" >"$DIR/namespace.log" 2>&1 \
    || { cat "$DIR/namespace.log" >&2; die "namespace / search attribute setup failed"; }
  log "$(grep -c 'search attribute' "$DIR/namespace.log") search attributes in namespace $CPM_TEMPORAL_NAMESPACE ($(grep -o 'namespace .* \(exists\|created\)' "$DIR/namespace.log" | awk '{print $NF}'))"
}

record_settings() {
  mkdir -p "$DIR"
  {
    echo "# written by scripts/temporal-cluster.sh up; later commands reuse these"
    printf 'CPM_TC_PORT_BASE=%q\n' "$BASE"
    printf 'CPM_TC_TLS_DIR=%q\n' "$TLS_DIR"
    printf 'POSTGRES_PASSWORD=%q\n' "$PG_PASSWORD"
    [[ -n "${CPM_TC_BIN:-}" ]] && printf 'CPM_TC_BIN=%q\n' "$CPM_TC_BIN"
    [[ -n "${CPM_TC_PG_BIN:-}" ]] && printf 'CPM_TC_PG_BIN=%q\n' "$CPM_TC_PG_BIN"
  } >"$SAVED"
  chmod 600 "$SAVED"
}

case "$CMD" in
  up)
    [[ $(id -u) -eq 0 ]] || die "run as root (PostgreSQL runs as the postgres user)"
    command -v temporal >/dev/null || die "the temporal CLI is missing (scripts/setup.sh installs it)"
    if [[ -n "$TLS_DIR" ]]; then
      for f in ca.pem server.pem server-key.pem client.pem client-key.pem; do [[ -r "$TLS_DIR/$f" ]] || die "CPM_TC_TLS_DIR=$TLS_DIR has no $f"; done
    fi
    T0=$SECONDS
    export CPM_TC_BIN="${CPM_TC_BIN:-$(temporal_bin)}"
    record_settings
    postgres_start
    schema
    server_start
    namespace
    log "up in $((SECONDS - T0)) s; clients: eval \"\$(scripts/temporal-cluster.sh env)\""
    ;;
  down)
    server_stop
    postgres_stop
    if [[ "${1:-}" == --purge ]]; then rm -rf "$DIR"; log "removed $DIR"; fi
    ;;
  status)
    rc=0
    p="$(pg_pid)"; if alive "$p"; then echo "postgresql: running (pid $p) on 127.0.0.1:$PG_PORT, data $PGDATA"; else echo "postgresql: stopped"; rc=1; fi
    p="$(server_pid)"
    if alive "$p"; then
      if server_healthy; then echo "temporal-server: SERVING (pid $p) on 127.0.0.1:$FRONTEND_PORT${TLS_DIR:+ (mTLS)}"; else echo "temporal-server: running (pid $p), not SERVING"; rc=1; fi
    else
      echo "temporal-server: stopped"; rc=1
    fi
    exit $rc
    ;;
  env) client_env | sed 's/^/export /' ;;
  server-env) server_env ;;
  server-start) server_start ;;
  server-stop) server_stop "${1:-}" ;;
  postgres-start) postgres_start ;;
  postgres-stop) postgres_stop "${1:-}" ;;
  *)
    sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
