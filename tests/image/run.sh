#!/usr/bin/env bash
# Runs the image tests/image/build.sh built, and proves it (issue #23). No
# container runtime runs in this sandbox (no daemon; podman needs user
# namespaces and cgroups it does not get here), so the image's root filesystem
# (umoci unpack of the OCI layout) runs in a new mount and PID namespace
# (unshare), read-only, chrooted (capsh) as user 65532:65532 with no
# capabilities (bounding set emptied, no_new_privs), as the manifests'
# securityContext asks.
# meshgate runs with the Deployment's own arguments from `kubectl kustomize
# manifests/` (certificate and policy paths, mounted where the Deployment mounts
# them) plus --cluster-from on the demo cluster; then: /readyz 200, a review
# over TLS denied and one allowed, the process's uid and capabilities, and
# SIGTERM drains (exit 0).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/image
kubectl="${MESHGATE_KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.33}"
[ -f "$out/oci/index.json" ] || { echo "image-run: build the image first (tests/image/build.sh)" >&2; exit 1; }
run=$(mktemp -d)
pid=""
# meshgate is PID 1 of its PID namespace: killing it ends the namespace.
cleanup() {
  if [ -n "$pid" ]; then pkill -9 -P "$pid" 2>/dev/null || true; kill -9 "$pid" 2>/dev/null || true; fi
  rm -rf "$run"
}
trap cleanup EXIT
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
umoci unpack --rootless --image "$out/oci:$version" "$run/bundle" >/dev/null
rootfs="$run/bundle/rootfs"
# What the image holds: the binary and nothing else.
extra=$(cd "$rootfs" && find . -mindepth 1 ! -path ./usr ! -path ./usr/local ! -path ./usr/local/bin ! -path ./usr/local/bin/meshgate)
[ -z "$extra" ] || { echo "image-run: unexpected files in the image: $extra" >&2; exit 1; }
# The Deployment's container: its args, ports and mounts.
$kubectl kustomize manifests >"$run/manifests.yaml"
python3 -c 'import yaml' 2>/dev/null || apt-get install -y python3-yaml >/dev/null
deploy_json=$(python3 -c '
import json, sys, yaml
items = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
d = next(i for i in items if i["kind"] == "Deployment")
c = d["spec"]["template"]["spec"]["containers"][0]
print(json.dumps({"args": c["args"], "ports": sorted(p["containerPort"] for p in c["ports"]),
                  "mounts": {m["name"]: m["mountPath"] for m in c["volumeMounts"]},
                  "user": d["spec"]["template"]["spec"]["securityContext"]["runAsUser"]}))' "$run/manifests.yaml")
image_cfg=$(python3 - "$out/oci" "$version" <<'PY'
import json, sys
lay, version = sys.argv[1], sys.argv[2]
blob = lambda d: f"{lay}/blobs/{d.split(':')[0]}/{d.split(':')[1]}"
idx = json.load(open(f"{lay}/index.json"))
m = next(d for d in idx["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == version)
c = json.load(open(blob(json.load(open(blob(m["digest"])))["config"]["digest"])))["config"]
print(json.dumps({"user": c["User"], "entrypoint": c["Entrypoint"], "cmd": c["Cmd"],
                  "ports": sorted(int(p.split("/")[0]) for p in c["ExposedPorts"])}))
PY
)
python3 - "$deploy_json" "$image_cfg" <<'PY'
import json, sys
d, i = json.loads(sys.argv[1]), json.loads(sys.argv[2])
problems = []
if d["ports"] != i["ports"]:
    problems.append(f"ports: Deployment {d['ports']}, image {i['ports']}")
if i["user"] != f"{d['user']}:{d['user']}":
    problems.append(f"user: Deployment runAsUser {d['user']}, image {i['user']}")
if d["args"][0] != i["cmd"][0]:
    problems.append(f"command: Deployment args start {d['args'][0]!r}, image cmd {i['cmd']}")
if problems:
    sys.exit("image-run: the manifests and the image disagree: " + "; ".join(problems))
print(f"image-run: manifests and image agree: user {i['user']}, ports {i['ports']}, entrypoint {i['entrypoint']} + args {d['args'][0]!r}")
PY
# The files the Deployment mounts: a serving pair for 127.0.0.1, the policy.
mkdir -p "$run/tls" "$run/policy" "$run/cluster"
./target/x86_64-unknown-linux-gnu/release/meshgate certs --dns localhost --ip 127.0.0.1 --out "$run/tls" >/dev/null
python3 -c '
import sys, yaml
cm = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "ConfigMap")
open(sys.argv[2], "w").write(cm["data"]["meshgate.yaml"])' "$run/manifests.yaml" "$run/policy/meshgate.yaml"
cp examples/demo-cluster/*.yaml "$run/cluster/"
chmod -R a+rX "$run"
tls_dir=$(echo "$deploy_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mounts"]["tls"])')
policy_dir=$(echo "$deploy_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mounts"]["policy"])')
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wport=$(port); aport=$(port)
# The Deployment's args, with loopback listen addresses (the host's network).
mapfile -t args < <(echo "$deploy_json" | python3 -c "
import json, sys
for a in json.load(sys.stdin)['args']:
    a = a.replace('--addr=0.0.0.0:8443', '--addr=127.0.0.1:$wport').replace('--admin-addr=0.0.0.0:8080', '--admin-addr=127.0.0.1:$aport')
    print(a)")
# Mount points exist in the unpacked copy (created before the root turns read-only).
mkdir -p "$rootfs$tls_dir" "$rootfs$policy_dir" "$rootfs/data/cluster" "$rootfs/proc"
unshare --mount --pid --fork --kill-child -- bash -c '
  set -e
  rootfs=$1; run=$2; tls=$3; policy=$4; shift 4
  mount --make-rprivate /
  mount --bind "$rootfs" "$rootfs"
  mount --bind -o ro "$run/tls" "$rootfs$tls"
  mount --bind -o ro "$run/policy" "$rootfs$policy"
  mount --bind -o ro "$run/cluster" "$rootfs/data/cluster"
  mount -t proc proc "$rootfs/proc"
  mount -o remount,bind,ro "$rootfs"
  # chroot as root, then: every capability out of the bounding set, the group
  # and user 65532 (setuid clears the rest), no_new_privs, exec the entrypoint.
  caps=$(capsh --print | sed -n "s/^Bounding set =//p")
  exec capsh --chroot="$rootfs" --drop="$caps" --gid=65532 --groups= --uid=65532 --no-new-privs \
    --shell=/usr/local/bin/meshgate -- "$@"
' image-run "$rootfs" "$run" "$tls_dir" "$policy_dir" "${args[@]}" --cluster-from=/data/cluster >"$run/meshgate.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$aport/readyz" >/dev/null && break
  sleep 0.2
done
fail() { echo "image-run: $1" >&2; tail -20 "$run/meshgate.log" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aport/readyz")" = 200 ] || fail "/readyz is not 200"
echo "image-run: /readyz 200"
denied=$(curl -s --cacert "$run/tls/ca.crt" -H 'Content-Type: application/json' --data @examples/reviews/vs-missing-gateway.json "https://127.0.0.1:$wport/validate")
echo "$denied" | grep -q '"allowed":false' && echo "$denied" | grep -q 'MG0101' || fail "a review over TLS was not denied: $denied"
allowed=$(curl -s --cacert "$run/tls/ca.crt" -H 'Content-Type: application/json' --data @examples/reviews/vs-consistent.json "https://127.0.0.1:$wport/validate")
echo "$allowed" | grep -q '"allowed":true' || fail "a consistent review was not allowed: $allowed"
echo "image-run: a review over TLS denied (MG0101), another allowed"
# The server process: unshare's child (bash, which became capsh, then meshgate).
mg=$(pgrep -P "$pid" | head -1)
[ "$(readlink "/proc/$mg/exe" 2>/dev/null | sed 's|.*/||')" = meshgate ] || fail "unshare's child is not meshgate"
[ -n "$mg" ] || fail "no meshgate process"
uid=$(awk '/^Uid:/{print $2}' "/proc/$mg/status")
capeff=$(awk '/^CapEff:/{print $2}' "/proc/$mg/status")
capbnd=$(awk '/^CapBnd:/{print $2}' "/proc/$mg/status")
nnp=$(awk '/^NoNewPrivs:/{print $2}' "/proc/$mg/status")
[ "$uid" = 65532 ] && [ "$capeff" = 0000000000000000 ] && [ "$capbnd" = 0000000000000000 ] && [ "$nnp" = 1 ] \
  || fail "process uid $uid CapEff $capeff CapBnd $capbnd NoNewPrivs $nnp"
# Written from inside its mount namespace, even as root, the root is refused.
if nsenter --target "$mg" --mount -- touch "$rootfs/probe" 2>/dev/null; then fail "the root filesystem is writable"; fi
echo "image-run: runs as uid $uid, no capabilities (CapEff $capeff, CapBnd $capbnd), no_new_privs, read-only root"
kill -TERM "$mg"
for _ in $(seq 1 175); do kill -0 "$mg" 2>/dev/null || break; sleep 0.2; done
kill -0 "$mg" 2>/dev/null && fail "still running 35 s after SIGTERM"
set +e
wait "$pid"
code=$?
set -e
[ "$code" = 0 ] || fail "exit status $code after SIGTERM"
grep -q "shutting down: finishing in-flight reviews" "$run/meshgate.log" || fail "no drain on SIGTERM"
pid=""
echo "image-run: SIGTERM drains and exits 0"
echo "image-run: passed (run as an unpacked rootfs under unshare + chroot, not by a container runtime)"
