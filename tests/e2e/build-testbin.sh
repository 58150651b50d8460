#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy for the end-to-end tests
# (no registry ships them), caching the binaries outside the repository, keyed by
# version. Prints the directory holding them. See docs/e2e.md.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.4}"
CACHE="${MESHGATE_TESTBIN:-$HOME/.cache/meshgate-testbin}"
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ]; then
  echo "$BIN"
  exit 0
fi

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/testbin/tools.go" "$work/"

echo "testbin: building kube-apiserver $K8S_VERSION and etcd $ETCD_VERSION (first run: 10-20 minutes)" >&2
gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
# ./staging/...; outside its tree each must point at the published module instead.
minor="${K8S_VERSION#v1.}"
staging_version="v0.${minor}"
{
  echo "module meshgate.test/testbin"
  echo
  echo "go 1.24.0"
  echo
  echo "godebug default=go1.24"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $K8S_VERSION"
  echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  echo ")"
  echo
  grep -o 'k8s.io/[a-z0-9-]* => ./staging/src/k8s.io/[a-z0-9-]*' "$gomod" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
} > "$work/go.mod"

mkdir -p "$BIN"
cd "$work"
export GOFLAGS=-mod=mod CGO_ENABLED=0
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
go build -trimpath -ldflags "$ldflags" -o "$BIN/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
mv "$BIN/etcd.tmp" "$BIN/etcd"
echo "$BIN"
