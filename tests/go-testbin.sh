#!/usr/bin/env bash
# Builds a Go test binary or driver once and caches it outside the repository,
# keyed by the hash of its module's sources; prints the binary's path. Used by
# tests/istiod-oracle/build.sh and tests/flux-driver/build.sh.
#   go-testbin.sh NAME MODULE_DIR BINARY "FIRST-RUN NOTE" go test -c ...|go build ...
# The package built is the module's own (.) unless GO_TESTBIN_PACKAGE names another
# (a tool the module pins, e.g. helm.sh/helm/v4/cmd/helm).
# A lock makes concurrent test threads wait for one build instead of racing.
set -euo pipefail

name="$1" dir="$2" binary="$3" note="$4"
shift 4
CACHE="${MESHGATE_TESTBIN:-$HOME/.cache/meshgate-testbin}"
key="$(cat "$dir/go.mod" "$dir/go.sum" "$dir"/*.go | sha256sum | cut -c1-16)"
BIN="$CACHE/$name-$key/$binary"
mkdir -p "$(dirname "$BIN")"

exec 9>"$(dirname "$BIN")/.lock"
flock 9
if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

echo "$name: $note" >&2
cd "$dir"
# go.sum pins every module's hash; the checksum database lacks one of istio's
# dependencies (github.com/envoyproxy/go-control-plane/contrib, a pseudo-version),
# so it is not consulted.
export GOSUMDB=off GOFLAGS=-mod=readonly
start=$(date +%s)
"$@" -trimpath -o "$BIN.tmp" "${GO_TESTBIN_PACKAGE:-.}" >&2
mv "$BIN.tmp" "$BIN"
echo "$name: built in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
