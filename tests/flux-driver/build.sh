#!/usr/bin/env bash
# Builds the Flux driver (Flux's real apply logic, github.com/fluxcd/pkg/ssa
# v0.78.0, with a relay that sends each review to a random replica in front of
# meshgate's replicas), cached by tests/go-testbin.sh. Prints the binary's path.
# See docs/e2e.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../go-testbin.sh" flux-driver "$here" flux-driver \
  "building fluxcd/pkg/ssa v0.78.0 and its client (first run: about 1-3 minutes)" go build
