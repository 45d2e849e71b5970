#!/bin/sh
# Create and migrate Temporal's two SQL databases (persistence and visibility) with
# temporal-sql-tool; the schemas are the ones embedded in the tool of the server's release.
# Idempotent: create-database accepts an existing database, setup-schema -v 0.0 leaves a
# newer schema alone, update-schema applies only what is missing.
# Run by docker-compose.yml (temporal-schema, in temporalio/admin-tools) and by
# scripts/temporal-cluster.sh (the tool built by scripts/build-temporal.sh). POSIX sh.
#
# Environment (the names the server's config template uses):
#   DB                 SQL plugin (postgres12)           POSTGRES_SEEDS  host
#   DB_PORT            port (5432)                       POSTGRES_USER   user
#   SQL_PASSWORD       password                          DBNAME / VISIBILITY_DBNAME (temporal / temporal_visibility)
#   TEMPORAL_SQL_TOOL  the tool (default: temporal-sql-tool on PATH)
set -eu
: "${DB:?DB (the SQL plugin, e.g. postgres12) is required}"
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
DB_PORT="${DB_PORT:-5432}"
TOOL="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"
case "$DB" in
  postgres12|postgres12_pgx) SCHEMA_ROOT=postgresql/v12 ;;
  *) echo "setup-schema: DB=$DB is not a PostgreSQL plugin this script knows" >&2; exit 2 ;;
esac
export SQL_PASSWORD

sql() { "$TOOL" --plugin "$DB" --endpoint "$POSTGRES_SEEDS" --port "$DB_PORT" --user "$POSTGRES_USER" "$@"; }

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"; schema="$SCHEMA_ROOT/${pair#*:}"
  echo "setup-schema: $db ($schema)"
  sql --database "$db" create-database
  sql --database "$db" setup-schema -v 0.0
  sql --database "$db" update-schema --schema-name "$schema"
done
echo "setup-schema: done"
