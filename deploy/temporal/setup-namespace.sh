#!/bin/sh
# Register the namespace and cpmigrate's search attributes with the `temporal` CLI, then
# read them back. Idempotent: only what is missing is created; a search attribute that
# exists with another type is an error.
# Run by docker-compose.yml (temporal-setup, in temporalio/admin-tools) and by
# scripts/temporal-cluster.sh. POSIX sh.
#
# Environment:
#   CPM_TEMPORAL_NAMESPACE, CPM_TEMPORAL_NAMESPACE_RETENTION, CPM_SEARCH_ATTRIBUTES (name:Type,...)
#     from .env, the stack's one source of truth
#   TEMPORAL_ADDRESS and the CLI's TLS variables (TEMPORAL_TLS_CLIENT_CERT_PATH,
#     TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME)
#   TEMPORAL_CLI       the CLI (default: temporal on PATH)
#   CPM_SETUP_WAIT_S   how long to wait for the server to answer (default 120)
set -eu
: "${CPM_TEMPORAL_NAMESPACE:?CPM_TEMPORAL_NAMESPACE is required (see .env)}"
: "${CPM_SEARCH_ATTRIBUTES:?CPM_SEARCH_ATTRIBUTES is required (see .env)}"
NS="$CPM_TEMPORAL_NAMESPACE"
CLI="${TEMPORAL_CLI:-temporal}"
WAIT="${CPM_SETUP_WAIT_S:-120}"
unset TEMPORAL_NAMESPACE # the CLI would prefer it over --namespace for some commands

i=0
until "$CLI" operator cluster health 2>/dev/null | grep -q SERVING; do
  i=$((i + 1))
  if [ "$i" -ge "$WAIT" ]; then
    echo "setup-namespace: the Temporal server at ${TEMPORAL_ADDRESS:-localhost:7233} did not answer SERVING within ${WAIT}s:" >&2
    "$CLI" operator cluster health >&2 || true
    exit 1
  fi
  sleep 1
done

if "$CLI" operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
  echo "setup-namespace: namespace $NS exists"
else
  "$CLI" operator namespace create --namespace "$NS" --retention "${CPM_TEMPORAL_NAMESPACE_RETENTION:-30d}"
  echo "setup-namespace: namespace $NS created"
fi
# a namespace just created may take a moment to be served by every service
i=0
until "$CLI" operator search-attribute list --namespace "$NS" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 60 ] || { echo "setup-namespace: namespace $NS not usable" >&2; exit 1; }
  sleep 1
done

have() { "$CLI" operator search-attribute list --namespace "$NS" | awk -v n="$1" '$1 == n { print $2 }'; }
old_ifs="$IFS"; IFS=','
for spec in $CPM_SEARCH_ATTRIBUTES; do
  IFS="$old_ifs"
  name="${spec%%:*}"; type="${spec#*:}"
  cur="$(have "$name")"
  if [ -z "$cur" ]; then
    "$CLI" operator search-attribute create --namespace "$NS" --name "$name" --type "$type"
    cur="$(have "$name")"
  fi
  if [ "$cur" != "$type" ]; then
    echo "setup-namespace: search attribute $name is '${cur:-missing}' in namespace $NS, expected $type" >&2
    exit 1
  fi
  # usable in a visibility query (the frontend's search attribute cache may lag a registration)
  i=0
  until "$CLI" workflow list --namespace "$NS" --limit 1 --query "$name='cpm-setup-probe'" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 90 ] || { echo "setup-namespace: $name registered but not queryable after 90 s" >&2; exit 1; }
    sleep 1
  done
  echo "setup-namespace: search attribute $name $type"
done
IFS="$old_ifs"
echo "setup-namespace: done"
