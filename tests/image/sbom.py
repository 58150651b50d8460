#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM of the crates compiled into the meshgate binary, from
`cargo metadata` (the resolved graph for the image's target, normal
dependencies only: no build-, dev- or test-only crates). No extra tool: cargo's
own resolution is the source of truth. Usage: sbom.py TARGET_TRIPLE > sbom.cdx.json"""
import json
import subprocess
import sys
import uuid

target = sys.argv[1]
meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", target]))
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = meta["resolve"]["root"]

# Normal (runtime) dependencies reachable from the root package.
seen, stack = set(), [root]
while stack:
    pid = stack.pop()
    if pid in seen:
        continue
    seen.add(pid)
    for dep in nodes[pid]["deps"]:
        if any(k["kind"] is None for k in dep["dep_kinds"]):
            stack.append(dep["pkg"])

def ref(pid):
    p = packages[pid]
    return f"pkg:cargo/{p['name']}@{p['version']}"

def component(pid):
    p = packages[pid]
    c = {"type": "library", "bom-ref": ref(pid), "name": p["name"], "version": p["version"], "purl": ref(pid)}
    if p.get("license"):
        c["licenses"] = [{"expression": p["license"]}]
    return c

rootp = packages[root]
bom = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'meshgate-' + rootp['version'] + '-' + ','.join(sorted(map(ref, seen))))}",
    "version": 1,
    "metadata": {"component": dict(component(root), type="application")},
    "components": [component(pid) for pid in sorted(seen - {root}, key=ref)],
    "dependencies": [
        {"ref": ref(pid), "dependsOn": sorted(ref(d["pkg"]) for d in nodes[pid]["deps"]
                                               if any(k["kind"] is None for k in d["dep_kinds"]))}
        for pid in sorted(seen, key=ref)
    ],
}
json.dump(bom, sys.stdout, indent=1)
print()
