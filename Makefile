# `make test` is the one command that runs every test; .ci/run calls it.
CARGO ?= cargo

.PHONY: test fmt-check clippy unit bench build

test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test --all-targets

build:
	$(CARGO) build --release

# Benchmarks are not tests: numbers go to docs/performance.md.
bench:
	$(CARGO) bench --bench engine
