#!/usr/bin/env bash
# Builds the istiod oracle (Istio's config generation and traffic simulation, as a
# `go test -c` binary) and caches it outside the repository, keyed by the hash of
# this module's sources. Prints the binary's path. See docs/oracle.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
CACHE="${MESHGATE_TESTBIN:-$HOME/.cache/meshgate-testbin}"
key="$(cat "$here/go.mod" "$here/go.sum" "$here/oracle_test.go" | sha256sum | cut -c1-16)"
BIN="$CACHE/istiod-oracle-$key/oracle.test"

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

echo "istiod-oracle: building istio.io/istio's pilot test packages (first run: about 5-15 minutes)" >&2
mkdir -p "$(dirname "$BIN")"
cd "$here"
# go.sum pins every module's hash; the checksum database lacks one of istio's
# dependencies (github.com/envoyproxy/go-control-plane/contrib, a pseudo-version),
# so it is not consulted.
export GOSUMDB=off GOFLAGS=-mod=readonly
start=$(date +%s)
go test -c -trimpath -o "$BIN.tmp" . >&2
mv "$BIN.tmp" "$BIN"
echo "istiod-oracle: built in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
