//go:build tools

// Package helm pins Helm (helm.sh/helm/v4 v4.3.2) for the chart tests: the
// binary is built from its cmd/helm by tests/helm/build.sh and cached.
package helm

import _ "helm.sh/helm/v4/cmd/helm"
