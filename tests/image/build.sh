#!/usr/bin/env bash
# Builds meshgate's container image without a Docker daemon and without pulling
# a base image (issue #23): a static binary (x86_64-unknown-linux-gnu,
# +crt-static: glibc 2.34+ resolves names without NSS modules) in an OCI image
# from scratch, assembled with umoci (Debian's package, installed if missing),
# with the Dockerfile runtime stage's user, entrypoint, command, ports and
# labels (tests/image/dockerfile_config.py), plus a CycloneDX SBOM of the crates
# beside it. Output: target/image/oci (an OCI layout, tag meshgate:VERSION),
# target/image/sbom.cdx.json, target/image/summary.txt. Prints size and digest.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/image
triple=x86_64-unknown-linux-gnu
if ! command -v umoci >/dev/null; then
  echo "image: installing umoci (Debian package)" >&2
  apt-get install -y umoci >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y umoci >/dev/null; }
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$triple" --bin meshgate
bin="target/$triple/release/meshgate"
# Static: no interpreter, no shared libraries.
if readelf -l "$bin" | grep -q "INTERP\|Requesting program interpreter"; then
  echo "image: $bin is not static" >&2
  exit 1
fi
rm -rf "$out/oci" "$out/bundle"
mkdir -p "$out"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:meshgate"
umoci unpack --rootless --image "$out/oci:meshgate" "$out/bundle" >/dev/null
mkdir -p "$out/bundle/rootfs/usr/local/bin"
cp "$bin" "$out/bundle/rootfs/usr/local/bin/meshgate"
strip "$out/bundle/rootfs/usr/local/bin/meshgate"
chmod 0755 "$out/bundle/rootfs/usr/local/bin/meshgate"
umoci repack --image "$out/oci:meshgate" "$out/bundle"
mapfile -t config < <(python3 tests/image/dockerfile_config.py Dockerfile)
created=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
umoci config --image "$out/oci:meshgate" --tag "$version" "${config[@]}" \
  --os linux --architecture amd64 --config.workingdir / --created "$created" \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.revision=$revision" \
  --config.label "org.opencontainers.image.created=$created"
umoci rm --image "$out/oci:meshgate"
umoci gc --layout "$out/oci"
python3 tests/image/sbom.py "$triple" >"$out/sbom.cdx.json"
# The image's manifest digest and sizes, from the OCI layout.
python3 - "$out" "$version" <<'PY' | tee "$out/summary.txt"
import json, os, sys
out, version = sys.argv[1], sys.argv[2]
index = json.load(open(f"{out}/oci/index.json"))
m = next(d for d in index["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == version)
blob = lambda d: f"{out}/oci/blobs/{d.split(':')[0]}/{d.split(':')[1]}"
manifest = json.load(open(blob(m["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
layers = sum(l["size"] for l in manifest["layers"])
sbom = json.load(open(f"{out}/sbom.cdx.json"))
c = config["config"]
print(f"image meshgate:{version} digest {m['digest']}")
print(f"size: {layers} bytes compressed ({layers / 1048576:.1f} MiB, {len(manifest['layers'])} layer), binary {os.path.getsize(out + '/bundle/rootfs/usr/local/bin/meshgate') / 1048576:.1f} MiB")
print(f"user {c.get('User')}, entrypoint {c.get('Entrypoint')}, cmd {c.get('Cmd')}, ports {sorted(c.get('ExposedPorts', {}))}")
print(f"sbom: {len(sbom['components'])} crates ({out}/sbom.cdx.json)")
PY
