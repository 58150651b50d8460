#!/usr/bin/env bash
# Multi-cluster scale (issue #22): a real kube-apiserver (the e2e's cached build)
# holding N Services (default 10,000) acts as a remote cluster. Measures
# (1) `meshgate check --remote-kubeconfig`'s list time, and (2) a live
# `meshgate serve`: the time from its remote secret's creation to the cluster
# being synced, and the memory the remote Services take (RSS after the
# remote cluster synced minus before). Usage: benches/remote-scale.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
bin="$(bash tests/e2e/build-testbin.sh | tail -1)"
cargo build --release --bin meshgate
mg=./target/release/meshgate
kubectl=${MESHGATE_KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.33}
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
etcd_port=$(port); peer=$(port); api=$(port)
"$bin/etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer" \
  --unsafe-no-fsync >"$dir/etcd.log" 2>&1 &
pids+=($!)
openssl ecparam -name prime256v1 -genkey -noout -out "$dir/sa.key"
echo 'bench-token,admin,admin,"system:masters"' >"$dir/tokens.csv"
"$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 \
  --advertise-address 127.0.0.1 --secure-port "$api" --cert-dir "$dir/certs" \
  --service-cluster-ip-range 10.0.0.0/16 --endpoint-reconciler-type none \
  --service-account-key-file "$dir/sa.key" --service-account-signing-key-file "$dir/sa.key" \
  --service-account-issuer "https://127.0.0.1:$api" --token-auth-file "$dir/tokens.csv" \
  --authorization-mode RBAC --disable-admission-plugins ServiceAccount >"$dir/apiserver.log" 2>&1 &
pids+=($!)
kc="$dir/kubeconfig"
write_kc() {
  cat >"$kc" <<KC
apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {server: "https://127.0.0.1:$api", $1}
users:
- name: admin
  user: {token: bench-token}
contexts:
- name: bench
  context: {cluster: bench, user: admin}
current-context: bench
KC
}
write_kc "insecure-skip-tls-verify: true"
until $kubectl --kubeconfig "$kc" get --raw /readyz >/dev/null 2>&1; do sleep 0.5; done
write_kc "certificate-authority-data: $(base64 -w0 "$dir/certs/apiserver.crt")"
echo "creating $n Services in 100 namespaces..."
python3 - "$n" >"$dir/services.yaml" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(100):
    print(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{i}}}\n---")
for i in range(n):
    print(f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: ns-{i % 100}}}\nspec:\n  selector: {{app: svc-{i}}}\n  ports: [{{name: http, port: 8080}}, {{name: grpc, port: 9090}}]\n---")
PY
start=$(date +%s.%N)
$kubectl --kubeconfig "$kc" create -f "$dir/services.yaml" >/dev/null
echo "created in $(echo "$(date +%s.%N) - $start" | bc) s"
echo "--- meshgate check --cluster --remote-kubeconfig west=... (local and remote: the same API server)"
touch "$dir/empty.yaml"
for i in 1 2 3; do
  $mg check --cluster --kubeconfig "$kc" --remote-kubeconfig "west=$kc" --fail-on never "$dir/empty.yaml" 2>&1 >/dev/null | grep "remote cluster west"
done
echo "--- meshgate serve: the remote secret created, until the cluster is synced"
$mg certs --dns localhost --ip 127.0.0.1 --out "$dir/tls" >/dev/null
wport=$(port); aport=$(port)
$kubectl --kubeconfig "$kc" create namespace meshgate >/dev/null
RUST_LOG=warn $mg serve --kubeconfig "$kc" --addr "127.0.0.1:$wport" --admin-addr "127.0.0.1:$aport" \
  --tls-cert "$dir/tls/tls.crt" --tls-key "$dir/tls/tls.key" --own-namespace meshgate --cluster-id local >"$dir/serve.log" 2>&1 &
pid=$!
pids+=($pid)
until curl -sf "http://127.0.0.1:$aport/readyz" >/dev/null; do sleep 0.2; done
sleep 5  # the first audit pass
rss() { awk '/VmRSS/{print int($2/1024)}' "/proc/$pid/status"; }
before=$(rss)
{
  echo "apiVersion: v1"; echo "kind: Secret"
  echo "metadata: {name: istio-remote-secret-west, namespace: meshgate, labels: {istio/multiCluster: \"true\"}}"
  echo "stringData:"; echo "  west: |"; sed 's/^/    /' "$kc"
} >"$dir/secret.yaml"
start=$(date +%s.%N)
$kubectl --kubeconfig "$kc" apply -f "$dir/secret.yaml" >/dev/null
until curl -sf "http://127.0.0.1:$aport/metrics" | grep -q 'meshgate_remote_cluster_ready{cluster="west"} 1'; do sleep 0.05; done
synced=$(echo "$(date +%s.%N) - $start" | bc)
sleep 5  # the audit pass the remote Services trigger
after=$(rss)
objects=$(curl -sf "http://127.0.0.1:$aport/metrics" | grep 'meshgate_remote_cluster_objects{cluster="west",kind="Service"}' | awk '{print $2}')
echo "remote cluster synced $synced s after its secret was created; $objects remote Services in the view"
echo "RSS before the remote cluster: $before MiB; after: $after MiB; delta: $((after - before)) MiB for $n Services"
