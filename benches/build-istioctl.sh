#!/usr/bin/env bash
# Builds istioctl from the Go module proxy (for benches/vs-istioctl.sh), cached
# outside the repository like the API server binaries. The proxy serves
# istio.io/istio pseudo-versions, not tags: this one is master of 2026-04-23,
# between 1.30 and 1.31 (../shared/notes/istiod-oracle.md). One dependency has no
# checksum-database entry, hence GOSUMDB=off; go.sum records what the proxy served.
set -euo pipefail
version="${ISTIOCTL_VERSION:-v0.0.0-20260423205519-b01690e6db7d}"
cache="${MESHGATE_TESTBIN:-$HOME/.cache/meshgate-testbin}/istioctl-$version"
if [ -x "$cache/istioctl" ]; then
  echo "$cache/istioctl"
  exit 0
fi
mkdir -p "$cache"
GOBIN="$cache" GOSUMDB=off GOFLAGS=-mod=mod go install "istio.io/istio/istioctl/cmd/istioctl@$version" >&2
echo "$cache/istioctl"
