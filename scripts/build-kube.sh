#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager, kube-scheduler and kubectl (the
# drain benchmark compares against `kubectl drain`) from the k8s.io/kubernetes Go module (served by the Go module proxy) into
#   ${CPM_KUBE_CACHE:-/var/cache/cpmigrate/kube}/<version>/bin/
#
# `go install k8s.io/kubernetes/cmd/...@vX` does not work: the served go.mod
# replaces every staging module (k8s.io/api, k8s.io/client-go, ...) with
# ./staging/src/... and requires them at v0.0.0. So we generate a tiny wrapper
# module that requires k8s.io/kubernetes and replaces each staging module with
# its published v0.X.Y. The staging list is read from the served go.mod.
#
# Idempotent: if the binaries exist and print their version, it says
# "reusing" and exits 0. Builds go to a temp dir and are moved into place; when
# only some are missing (a cache from before kubectl was added), only those are
# built and added next to the others.
#
# Environment:
#   KUBE_VERSION      override the pinned version (default: below / scripts/kube-version)
#   CPM_KUBE_CACHE    cache root (default /var/cache/cpmigrate/kube)
#   CPM_KUBE_BUILD_P  go build -p (default: number of CPUs)
#   CPM_KUBE_FORCE=1  rebuild even if the cached binaries work
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEFAULT_KUBE_VERSION="v1.34.4"
if [[ -z "${KUBE_VERSION:-}" && -f "$SCRIPT_DIR/kube-version" ]]; then
  KUBE_VERSION="$(tr -d '[:space:]' < "$SCRIPT_DIR/kube-version")"
fi
KUBE_VERSION="${KUBE_VERSION:-$DEFAULT_KUBE_VERSION}"

CACHE_ROOT="${CPM_KUBE_CACHE:-/var/cache/cpmigrate/kube}"
DEST="$CACHE_ROOT/$KUBE_VERSION"
BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
BUILD_P="${CPM_KUBE_BUILD_P:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '[build-kube] %s\n' "$*" >&2; }
die() { printf '[build-kube] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [[ $rc -ne 0 ]] && printf "[build-kube] FAILED (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

[[ "$KUBE_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "KUBE_VERSION must look like v1.X.Y, got '$KUBE_VERSION'"
STAGING_VERSION="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

# kubectl has no --version flag
version_of() { if [[ "$(basename "$1")" == kubectl ]]; then "$1" version --client 2>&1; else "$1" --version 2>&1; fi; }
bin_ok() { [[ -x "$DEST/bin/$1" ]] && version_of "$DEST/bin/$1" >/dev/null; }
cached_ok() {
  local b
  for b in "${BINS[@]}"; do bin_ok "$b" || return 1; done
}

if [[ "${CPM_KUBE_FORCE:-0}" != 1 ]] && cached_ok; then
  log "reusing $KUBE_VERSION binaries in $DEST/bin"
  echo "$DEST/bin"
  exit 0
fi

command -v go >/dev/null || die "go not found on PATH (need Go >= the 'go' line of k8s.io/kubernetes@$KUBE_VERSION go.mod)"

mkdir -p "$CACHE_ROOT" || die "cannot create cache dir $CACHE_ROOT"
# Serialize concurrent builds of the same version.
exec 9>"$CACHE_ROOT/.lock-$KUBE_VERSION"
flock 9
if [[ "${CPM_KUBE_FORCE:-0}" != 1 ]] && cached_ok; then
  log "reusing $KUBE_VERSION binaries in $DEST/bin (built by a concurrent run)"
  echo "$DEST/bin"
  exit 0
fi

export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0
export GOPROXY="${GOPROXY:-$(go env GOPROXY)}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/build-kube.XXXXXX")"
STAGE="$(mktemp -d "$CACHE_ROOT/.tmp-$KUBE_VERSION.XXXXXX")"
cleanup() { rm -rf "$WORK" "$STAGE"; }
trap cleanup EXIT

T_ALL=$SECONDS
T=$SECONDS
phase_start() { T=$SECONDS; log "==> $*"; }
phase_done() { log "    done: $* ($((SECONDS - T)) s)"; }

log "building Kubernetes $KUBE_VERSION (staging modules $STAGING_VERSION) with $(go version | awk '{print $3}'), -p $BUILD_P"
log "work dir: $WORK"

# --- 1. served go.mod ---------------------------------------------------------
phase_start "fetch k8s.io/kubernetes@$KUBE_VERSION go.mod from the module proxy"
DL_JSON="$WORK/download.json"
if ! go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" >"$DL_JSON" 2>"$WORK/download.err"; then
  cat "$DL_JSON" "$WORK/download.err" >&2 || true
  die "go mod download k8s.io/kubernetes@$KUBE_VERSION failed (version not served? proxy unreachable? GOSUMDB unreachable -> try GOSUMDB=off)"
fi
SERVED_GOMOD="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' "$DL_JSON")"
[[ -f "$SERVED_GOMOD" ]] || { cat "$DL_JSON" >&2; die "no GoMod file in go mod download output"; }
phase_done "go.mod at $SERVED_GOMOD"

# --- 2. wrapper module ---------------------------------------------------------
phase_start "generate wrapper module"
# Staging modules: every `k8s.io/<name> => ./staging/src/k8s.io/<name>` replace.
mapfile -t STAGING < <(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*#\1#p' "$SERVED_GOMOD" | sort -u)
((${#STAGING[@]} > 0)) || die "found no staging replace directives in $SERVED_GOMOD"
# Keep the language version and GODEBUG defaults Kubernetes itself builds with.
GO_LINE="$(grep -m1 -E '^go [0-9]' "$SERVED_GOMOD" || true)"
GODEBUG_LINE="$(grep -m1 -E '^godebug ' "$SERVED_GOMOD" || true)"
[[ -n "$GO_LINE" ]] || die "no 'go' line in $SERVED_GOMOD"
{
  echo "// Generated by scripts/build-kube.sh from k8s.io/kubernetes@$KUBE_VERSION go.mod. Do not edit."
  echo "module cpmigrate.local/kubebuild"
  echo
  echo "$GO_LINE"
  [[ -n "$GODEBUG_LINE" ]] && echo "$GODEBUG_LINE"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  for m in "${STAGING[@]}"; do echo "	$m => $m $STAGING_VERSION"; done
  echo ")"
} >"$WORK/go.mod"
cat >"$WORK/tools.go" <<EOF
//go:build tools

// Package kubebuild only pins the commands we build.
package kubebuild

import (
$(for b in "${BINS[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done)
)
EOF
phase_done "${#STAGING[@]} staging modules replaced with $STAGING_VERSION"

# --- 3. resolve + download dependencies ---------------------------------------
phase_start "resolve and download dependencies (go mod tidy)"
if ! (cd "$WORK" && go mod tidy) >"$WORK/tidy.log" 2>&1; then
  tail -n 60 "$WORK/tidy.log" >&2
  die "go mod tidy failed for k8s.io/kubernetes@$KUBE_VERSION (see above; a staging module at $STAGING_VERSION may be missing from the proxy)"
fi
phase_done "$(grep -c '' "$WORK/go.sum") go.sum lines"

# --- 4. build -----------------------------------------------------------------
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
chmod 755 "$STAGE"   # mktemp -d creates 0700
mkdir -p "$STAGE/bin"
# a cache with some of the binaries (e.g. from before kubectl was added): build only the missing ones
TO_BUILD=()
for b in "${BINS[@]}"; do
  if [[ "${CPM_KUBE_FORCE:-0}" != 1 ]] && bin_ok "$b"; then log "    $b: cached, kept"; else TO_BUILD+=("$b"); fi
done
INCREMENTAL=0
((${#TO_BUILD[@]} < ${#BINS[@]})) && INCREMENTAL=1
for b in "${TO_BUILD[@]}"; do
  phase_start "go build $b"
  if ! (cd "$WORK" && go build -p "$BUILD_P" -trimpath -tags selinux,notest -ldflags "$LDFLAGS" \
        -o "$STAGE/bin/$b" "k8s.io/kubernetes/cmd/$b") >"$WORK/build-$b.log" 2>&1; then
    tail -n 80 "$WORK/build-$b.log" >&2
    die "go build of $b ($KUBE_VERSION) failed (see above)"
  fi
  phase_done "$b $(du -h "$STAGE/bin/$b" | cut -f1)"
done

# --- 5. verify + install atomically --------------------------------------------
phase_start "verify and install into $DEST"
for b in "${TO_BUILD[@]}"; do
  out="$(version_of "$STAGE/bin/$b")" || die "$b version failed: $out"
  [[ "$out" == *"$KUBE_VERSION"* ]] || die "$b printed version '$out', expected $KUBE_VERSION"
  log "    $b: ${out%%$'\n'*}"
done
cp "$WORK/go.mod" "$WORK/go.sum" "$STAGE/"
if ((INCREMENTAL)); then
  # the cached binaries may be running: add the new ones beside them, each by an atomic rename
  for b in "${TO_BUILD[@]}"; do mv "$STAGE/bin/$b" "$DEST/bin/$b"; done
  mv "$STAGE/go.mod" "$DEST/go.mod"
  mv "$STAGE/go.sum" "$DEST/go.sum"
elif [[ -e "$DEST" ]]; then
  OLD="$CACHE_ROOT/.old-$KUBE_VERSION.$$"
  mv "$DEST" "$OLD"
  mv "$STAGE" "$DEST"
  rm -rf "$OLD"
else
  mv "$STAGE" "$DEST"
fi
phase_done "installed"

log "total: $((SECONDS - T_ALL)) s"
log "binaries: $DEST/bin"
echo "$DEST/bin"
