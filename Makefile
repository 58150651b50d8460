# `make test` is the one command that runs every test; .ci/run calls it.
CARGO ?= cargo

.PHONY: test fmt-check clippy unit e2e image testbin bench bench-serve build

test: fmt-check clippy unit image

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

# Unit, HTTPS, CLI and end-to-end tests (the e2e suite builds kube-apiserver and
# etcd on first use, cached under ~/.cache/meshgate-testbin).
unit:
	$(CARGO) test --all-targets

# The container image, built without a daemon (umoci, from the Dockerfile's
# runtime stage) and run read-only as 65532 without capabilities: it must
# answer a review over TLS, be ready, and drain on SIGTERM (tests/image/).
image:
	bash tests/image/build.sh
	bash tests/image/run.sh

# Only the end-to-end suite: real kube-apiserver + etcd, kubectl 1.33.
e2e:
	$(CARGO) test --test e2e

# Build (or find in the cache) the kube-apiserver and etcd binaries.
testbin:
	bash tests/e2e/build-testbin.sh

build:
	$(CARGO) build --release

# Benchmarks are not tests: numbers go to docs/performance.md.
bench:
	$(CARGO) bench --bench engine

bench-serve:
	bash benches/serve.sh 10
