#!/usr/bin/env bash
# Builds the istiod oracle (Istio's config generation and traffic simulation, as a
# `go test -c` binary), cached by tests/go-testbin.sh. Prints the binary's path.
# See docs/oracle.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../go-testbin.sh" istiod-oracle "$here" oracle.test \
  "building istio.io/istio's pilot test packages (first run: about 5-15 minutes)" go test -c
