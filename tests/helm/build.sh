#!/usr/bin/env bash
# Builds Helm (helm.sh/helm/v4 v4.3.2, pinned by this module's go.mod and
# go.sum) from the Go module proxy, cached by tests/go-testbin.sh. Prints the
# binary's path. Used by the chart tests (tests/helm.rs) and the e2e.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
GO_TESTBIN_PACKAGE=helm.sh/helm/v4/cmd/helm exec bash "$here/../go-testbin.sh" helm "$here" helm \
  "building Helm v4.3.2 (first run: about 1-3 minutes)" go build
