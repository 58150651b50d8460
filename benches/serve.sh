#!/usr/bin/env bash
# Server benchmark at the product.md §6 view size: writes the synthetic cluster
# (88,000 manifests) once, serves it, and drives the real TLS server with the
# in-repo load generator at several connection counts. Usage: benches/serve.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
dir="${SYNTH_DIR:-/tmp/meshgate-synth-full}"
cargo build --release --bin meshgate --example synth --example loadgen
[ -f "$dir/087999.yaml" ] || ./target/release/examples/synth "$dir" 88000
mkdir -p target/bench-certs
[ -f target/bench-certs/tls.crt ] || ./target/release/meshgate certs --dns localhost --ip 127.0.0.1 --out target/bench-certs >/dev/null
# A server left over from another run would answer instead of this one.
if curl -s -o /dev/null http://127.0.0.1:18080/livez || curl -sk -o /dev/null https://127.0.0.1:18443/; then
  echo "serve.sh: ports 18080/18443 are in use (a meshgate from another run?); stop it first" >&2
  exit 1
fi
./target/release/meshgate serve --cluster-from "$dir" --addr 127.0.0.1:18443 --admin-addr 127.0.0.1:18080 \
  --tls-cert target/bench-certs/tls.crt --tls-key target/bench-certs/tls.key >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
start=$(date +%s.%N)
until curl -sf http://127.0.0.1:18080/readyz >/dev/null; do sleep 0.1; done
echo "view loaded and ready in $(echo "$(date +%s.%N) - $start" | bc) s; server RSS $(awk '/VmRSS/{print int($2/1024)}' /proc/$pid/status) MiB"
for c in 1 2 4 8 16 32; do
  echo "--- $c keep-alive connections"
  RUST_LOG=off ./target/release/examples/loadgen --addr 127.0.0.1:18443 --ca target/bench-certs/ca.crt \
    --connections "$c" --seconds "$secs" --pid "$pid" | tail -5
done
