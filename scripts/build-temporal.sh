#!/usr/bin/env bash
# Build the Temporal server and its SQL schema tool from the go.temporal.io/server
# Go module (served by the Go module proxy) into
#   ${CPM_TEMPORAL_CACHE:-/var/cache/cpmigrate/temporal}/<version>/bin/{temporal-server,temporal-sql-tool}
#
# The version comes from .env (CPM_TEMPORAL_SERVER_VERSION), the one
# place that also pins the docker-compose.yml images. go.temporal.io/server has no
# replace directives, so a plain `go install <pkg>@vX` works; v1.32.0 declares
# `go 1.26.8` (GOTOOLCHAIN=local: never download a toolchain).
#
# Idempotent: if both binaries exist and report the version, it says "reusing"
# and exits 0 (prints the bin dir on stdout). Builds go to a temp dir and are
# moved into place; concurrent runs of the same version serialize on a lock.
#
# Environment:
#   CPM_TEMPORAL_SERVER_VERSION  override the pinned version (e.g. 1.31.3)
#   CPM_TEMPORAL_CACHE           cache root (default /var/cache/cpmigrate/temporal)
#   CPM_TEMPORAL_BUILD_P         go build -p (default: number of CPUs)
#   CPM_TEMPORAL_FORCE=1         rebuild even if the cached binaries work
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PINNED="$(sed -n 's/^CPM_TEMPORAL_SERVER_VERSION=\([0-9.]*\)$/\1/p' "$ROOT/.env")"
VERSION="${CPM_TEMPORAL_SERVER_VERSION:-$PINNED}"
VERSION="${VERSION#v}"

CACHE_ROOT="${CPM_TEMPORAL_CACHE:-/var/cache/cpmigrate/temporal}"
DEST="$CACHE_ROOT/$VERSION"
BUILD_P="${CPM_TEMPORAL_BUILD_P:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '[build-temporal] %s\n' "$*" >&2; }
die() { printf '[build-temporal] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [[ $rc -ne 0 ]] && printf "[build-temporal] FAILED (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

[[ "$VERSION" =~ ^1\.[0-9]+\.[0-9]+$ ]] || die "Temporal server version must look like 1.X.Y, got '$VERSION' (.env)"

cached_ok() {
  [[ -x "$DEST/bin/temporal-server" && -x "$DEST/bin/temporal-sql-tool" ]] || return 1
  "$DEST/bin/temporal-server" --version 2>/dev/null | grep -q "$VERSION" || return 1
  "$DEST/bin/temporal-sql-tool" --version >/dev/null 2>&1 || return 1
}

if [[ "${CPM_TEMPORAL_FORCE:-0}" != 1 ]] && cached_ok; then
  log "reusing Temporal server $VERSION in $DEST/bin"
  echo "$DEST/bin"
  exit 0
fi

command -v go >/dev/null || die "go not found on PATH (go.temporal.io/server@v$VERSION needs the Go of its go.mod 'go' line)"

mkdir -p "$CACHE_ROOT" || die "cannot create cache dir $CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-$VERSION"
flock 9
if [[ "${CPM_TEMPORAL_FORCE:-0}" != 1 ]] && cached_ok; then
  log "reusing Temporal server $VERSION in $DEST/bin (built by a concurrent run)"
  echo "$DEST/bin"
  exit 0
fi

export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOPROXY="${GOPROXY:-$(go env GOPROXY)}"
unset GOFLAGS

STAGE="$(mktemp -d "$CACHE_ROOT/.tmp-$VERSION.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
chmod 755 "$STAGE"
mkdir -p "$STAGE/bin"

T_ALL=$SECONDS
log "building Temporal server v$VERSION with $(go version | awk '{print $3}'), -p $BUILD_P"

# The served go.mod names the Go it needs; say so plainly instead of a toolchain error.
T=$SECONDS
if ! DL="$(go mod download -json "go.temporal.io/server@v$VERSION" 2>&1)"; then
  printf '%s\n' "$DL" >&2
  die "go mod download go.temporal.io/server@v$VERSION failed (version not served? proxy unreachable?)"
fi
GOMOD="$(printf '%s\n' "$DL" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
NEED_GO="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$GOMOD" | head -1)"
HAVE_GO="$(go env GOVERSION)"; HAVE_GO="${HAVE_GO#go}"
if [[ -n "$NEED_GO" ]] && [[ "$(printf '%s\n%s\n' "$NEED_GO" "$HAVE_GO" | sort -V | head -1)" != "$NEED_GO" ]]; then
  die "go.temporal.io/server@v$VERSION needs Go $NEED_GO, this machine has $HAVE_GO (GOTOOLCHAIN=local)"
fi
log "    module fetched, needs go $NEED_GO, have $HAVE_GO ($((SECONDS - T)) s)"

LDFLAGS="-s -w"
for spec in "server:temporal-server" "tools/sql:temporal-sql-tool"; do
  pkg="go.temporal.io/server/cmd/${spec%%:*}"; name="${spec##*:}"
  T=$SECONDS
  log "==> go install $pkg@v$VERSION"
  mkdir -p "$STAGE/gobin"
  if ! GOBIN="$STAGE/gobin" go install -p "$BUILD_P" -trimpath -ldflags "$LDFLAGS" "$pkg@v$VERSION" >"$STAGE/build-$name.log" 2>&1; then
    tail -n 80 "$STAGE/build-$name.log" >&2
    die "go install $pkg@v$VERSION failed (see above)"
  fi
  mv "$STAGE/gobin/$(basename "$pkg")" "$STAGE/bin/$name"
  log "    done: $name $(du -h "$STAGE/bin/$name" | cut -f1) ($((SECONDS - T)) s)"
done
rm -rf "$STAGE/gobin" "$STAGE"/build-*.log

out="$("$STAGE/bin/temporal-server" --version 2>&1)" || die "temporal-server --version failed: $out"
[[ "$out" == *"$VERSION"* ]] || die "temporal-server --version printed '$out', expected $VERSION"
log "    temporal-server: $out"
"$STAGE/bin/temporal-sql-tool" --version >/dev/null 2>&1 || die "temporal-sql-tool --version failed"
printf 'go.temporal.io/server v%s built %s with %s in %s s\n' "$VERSION" "$(date -u +%FT%TZ)" "$(go version | awk '{print $3}')" "$((SECONDS - T_ALL))" >"$STAGE/BUILD-INFO"

if [[ -e "$DEST" ]]; then
  OLD="$CACHE_ROOT/.old-$VERSION.$$"
  mv "$DEST" "$OLD"; mv "$STAGE" "$DEST"; rm -rf "$OLD"
else
  mv "$STAGE" "$DEST"
fi
trap - EXIT
log "total: $((SECONDS - T_ALL)) s"
log "binaries: $DEST/bin"
echo "$DEST/bin"
