#!/usr/bin/env bash
# Builds the Flux driver (Flux's real apply logic, github.com/fluxcd/pkg/ssa
# v0.78.0, with a relay that sends each review to a random replica in front of meshgate's replicas)
# and caches it outside the repository, keyed by the hash of this module's
# sources. Prints the binary's path. See docs/e2e.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
CACHE="${MESHGATE_TESTBIN:-$HOME/.cache/meshgate-testbin}"
key="$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)"
BIN="$CACHE/flux-driver-$key/flux-driver"

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

echo "flux-driver: building fluxcd/pkg/ssa v0.78.0 and its client (first run: about 1-3 minutes)" >&2
mkdir -p "$(dirname "$BIN")"
cd "$here"
# go.sum pins every module's hash.
export GOSUMDB=off GOFLAGS=-mod=readonly
start=$(date +%s)
go build -trimpath -o "$BIN.tmp" . >&2
mv "$BIN.tmp" "$BIN"
echo "flux-driver: built in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
