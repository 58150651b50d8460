//go:build tools

// Package testbin pins the test binaries built by ../build-testbin.sh.
package testbin

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
