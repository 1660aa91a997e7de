#!/usr/bin/env bash
# Build the binaries of tokentrail's real pipeline from the Go module proxy (called by `make stack`):
#
#   1. otelcol-tokentrail: a minimal OpenTelemetry Collector distribution, built with the collector builder (ocb)
#      from deploy/otelcol-builder.yaml (exactly the components collector-config.yaml uses);
#   2. jaeger: Jaeger v2 (cmd/jaeger), built from the github.com/jaegertracing/jaeger module.
#
# Output goes to a cache keyed by version, reused when present (a rerun with a warm cache takes well under a second):
#
#   ${TOKENTRAIL_STACK_CACHE:-$HOME/.cache/tokentrail/stack}/
#     otelcol-tokentrail-<dist version>-<manifest hash>/otelcol-tokentrail
#     jaeger-<version>/jaeger
#     ocb-<version>/builder              the collector builder
#     go/mod, go/build                   GOMODCACHE and GOCACHE shared by all builds (keep these in CI's cache)
#     stack.env                          OTELCOL_BIN=... and JAEGER_BIN=... after a successful build
#
# Usage:
#   deploy/build-stack.sh                build what is missing, then print the binaries' paths
#   deploy/build-stack.sh --print-paths  print OTELCOL_BIN=..., JAEGER_BIN=..., STACK_CACHE=... (no build); the paths
#                                        exist only after a build
#   deploy/build-stack.sh --force        rebuild both even when cached
#
# Needs Go (1.24 or newer; an older go fetches the required toolchain through GOTOOLCHAIN=auto) and access to the
# Go module proxy. Cold build on 2 busy cores: 15 minutes; warm: 0.1 s (docs/scaling.md, "Building the stack").
# Any failure exits non-zero.
set -euo pipefail

# Pinned versions. The collector builder, the core components and contrib components must move together
# (deploy/otelcol-builder.yaml). v0.161.0 is the newest collector release whose whole dependency graph the Go module
# proxy serves (v0.162.0+ pull in modules the proxy does not have).
OCB_VERSION=v0.161.0
# Jaeger tags every release twice on the same commit: v1.x for the module (whose path has no /v2 suffix, so the proxy
# refuses v2.x versions) and v2.x for the product. v1.76.0 is the same source as Jaeger v2.13.0.
JAEGER_VERSION=v2.13.0
JAEGER_MODULE=github.com/jaegertracing/jaeger
JAEGER_MODULE_VERSION=v1.76.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MANIFEST="$ROOT/deploy/otelcol-builder.yaml"
CACHE=${TOKENTRAIL_STACK_CACHE:-$HOME/.cache/tokentrail/stack}

die() {
    echo "build-stack: error: $*" >&2
    exit 1
}
log() { echo "build-stack: $*" >&2; }

# dist.name and dist.version from the manifest (two-space indented keys under `dist:`).
manifest_field() {
    sed -n '/^dist:/,/^[^ #]/{s/^  '"$1"': *\([^ #]*\).*$/\1/p}' "$MANIFEST" | head -n 1
}

[[ -f $MANIFEST ]] || die "manifest not found: $MANIFEST"
DIST_NAME=$(manifest_field name)
DIST_VERSION=$(manifest_field version)
[[ -n $DIST_NAME && -n $DIST_VERSION ]] || die "dist.name and dist.version must be set in $MANIFEST"
MANIFEST_HASH=$(sha256sum "$MANIFEST" | cut -c1-12)

OTELCOL_DIR="$CACHE/$DIST_NAME-$DIST_VERSION-$MANIFEST_HASH"
OTELCOL_BIN="$OTELCOL_DIR/$DIST_NAME"
JAEGER_DIR="$CACHE/jaeger-$JAEGER_VERSION"
JAEGER_BIN="$JAEGER_DIR/jaeger"
OCB_BIN="$CACHE/ocb-$OCB_VERSION/builder"
ENV_FILE="$CACHE/stack.env"

print_paths() {
    printf 'OTELCOL_BIN=%s\nJAEGER_BIN=%s\nSTACK_CACHE=%s\n' "$OTELCOL_BIN" "$JAEGER_BIN" "$CACHE"
}

FORCE=0
case "${1:-}" in
    "") ;;
    --print-paths)
        print_paths
        exit 0
        ;;
    --force) FORCE=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument: $1 (try --help)" ;;
esac

# Go's standard install location is not always on a non-login shell's PATH.
command -v go >/dev/null 2>&1 || { [ -x /usr/local/go/bin/go ] && PATH="/usr/local/go/bin:$PATH"; }
command -v go >/dev/null 2>&1 || die "Go is required (https://go.dev/dl/); it was not found on PATH"
command -v flock >/dev/null 2>&1 || die "flock (util-linux) is required"

mkdir -p "$CACHE/go/mod" "$CACHE/go/build" "$CACHE/tmp"
export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOFLAGS="-trimpath -buildvcs=false ${GOFLAGS:-}"
export CGO_ENABLED=0
export GOTMPDIR="$CACHE/tmp"

# One build at a time per cache (parallel `make stack` runs, CI jobs sharing a cache volume).
exec 9>"$CACHE/.lock"
flock 9

WORK=$(mktemp -d "$CACHE/tmp/build.XXXXXX")
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT

elapsed() { echo "$((SECONDS - $1))s"; }

# Move a finished directory into place atomically, so an interrupted build never looks cached.
publish() {
    local staged=$1 target=$2
    rm -rf "$target.old"
    [[ -e $target ]] && mv "$target" "$target.old"
    mv "$staged" "$target"
    rm -rf "$target.old"
}

build_ocb() {
    [[ -x $OCB_BIN ]] && return 0
    local start=$SECONDS staged="$WORK/ocb"
    log "installing the collector builder go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
    mkdir -p "$staged"
    GOBIN="$staged" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION" ||
        die "could not install the collector builder $OCB_VERSION"
    publish "$staged" "$(dirname "$OCB_BIN")"
    log "collector builder ready in $(elapsed "$start")"
}

build_otelcol() {
    if [[ $FORCE == 0 && -x $OTELCOL_BIN ]]; then
        log "cached: $OTELCOL_BIN"
        return 0
    fi
    build_ocb
    local start=$SECONDS staged="$WORK/otelcol"
    log "building $DIST_NAME $DIST_VERSION from $MANIFEST (this is the slow part)"
    mkdir -p "$WORK/ocb-run" "$staged"
    # ocb writes the generated sources to dist.output_path, relative to its working directory.
    (cd "$WORK/ocb-run" && "$OCB_BIN" --config "$MANIFEST" --ldflags "-s -w") ||
        die "the collector build failed (see the output above)"
    local built="$WORK/ocb-run/$DIST_NAME/$DIST_NAME"
    [[ -x $built ]] || die "the collector builder finished without producing $built"
    "$built" --version >/dev/null || die "the built collector does not run: $built"
    cp "$built" "$staged/$DIST_NAME"
    cp "$MANIFEST" "$staged/otelcol-builder.yaml"
    "$staged/$DIST_NAME" --version >"$staged/VERSION"
    publish "$staged" "$OTELCOL_DIR"
    log "built $DIST_NAME in $(elapsed "$start")"
}

build_jaeger() {
    if [[ $FORCE == 0 && -x $JAEGER_BIN ]]; then
        log "cached: $JAEGER_BIN"
        return 0
    fi
    local start=$SECONDS staged="$WORK/jaeger" src info date
    log "building Jaeger $JAEGER_VERSION (module $JAEGER_MODULE@$JAEGER_MODULE_VERSION)"
    info=$(go mod download -json "$JAEGER_MODULE@$JAEGER_MODULE_VERSION") ||
        die "could not download $JAEGER_MODULE@$JAEGER_MODULE_VERSION: $info"
    src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$info")
    [[ -d $src/cmd/jaeger ]] || die "no cmd/jaeger in the downloaded module ($src)"
    # The release's commit time, as the proxy records it (.info file), stands in for the build date.
    date=$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",*$/\1/p' <<<"$info" | xargs -r sed -n 's/.*"Time":"\([^"]*\)".*/\1/p')
    mkdir -p "$staged"
    # The module cache copy is read-only; go build only reads it. The UI is the module's placeholder page
    # (the real UI is built with npm in Jaeger's own release process); the query API is complete.
    local pkg="$JAEGER_MODULE/internal/version"
    (cd "$src" && go build -o "$staged/jaeger" \
        -ldflags "-s -w -X $pkg.latestVersion=$JAEGER_VERSION -X $pkg.commitSHA=$JAEGER_MODULE_VERSION -X $pkg.date=$date" \
        ./cmd/jaeger) || die "the Jaeger build failed (see the output above)"
    "$staged/jaeger" version >"$staged/VERSION" 2>&1 || die "the built Jaeger does not run: $staged/jaeger"
    publish "$staged" "$JAEGER_DIR"
    log "built jaeger in $(elapsed "$start")"
}

total=$SECONDS
log "cache: $CACHE ($(go version))"
build_otelcol
build_jaeger
print_paths >"$ENV_FILE.tmp" && mv "$ENV_FILE.tmp" "$ENV_FILE"
log "stack ready in $(elapsed "$total")"
print_paths
