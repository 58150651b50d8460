#!/usr/bin/env python3
"""The runtime stage of the Dockerfile (its last FROM) as `umoci config`
arguments, so the image CI builds has the user, entrypoint, command, ports and
labels the Dockerfile declares, from one source. Also checks the stage is
`FROM scratch` and copies only the binary. Usage: dockerfile_config.py Dockerfile"""
import json
import shlex
import sys

lines, cur = [], ""
for raw in open(sys.argv[1]):
    line = raw.rstrip("\n")
    if line.lstrip().startswith("#"):
        continue
    if line.endswith("\\"):
        cur += line[:-1] + " "
        continue
    cur += line
    if cur.strip():
        lines.append(cur.strip())
    cur = ""
last = max(i for i, l in enumerate(lines) if l.upper().startswith("FROM "))
stage = lines[last:]
if stage[0].split()[1] != "scratch":
    sys.exit(f"the Dockerfile's runtime stage is {stage[0]!r}, not FROM scratch")
args = []
for l in stage[1:]:
    word, _, rest = l.partition(" ")
    word = word.upper()
    if word == "USER":
        args += ["--config.user", rest.strip()]
    elif word == "EXPOSE":
        for p in rest.split():
            args += ["--config.exposedports", p if "/" in p else p + "/tcp"]
    elif word in ("ENTRYPOINT", "CMD"):
        for a in json.loads(rest):
            args += [f"--config.{word.lower()}", a]
    elif word == "LABEL":
        for kv in shlex.split(rest):
            args += ["--config.label", kv]
    elif word == "COPY":
        if not rest.split()[-1].startswith("/usr/local/bin/"):
            sys.exit(f"the runtime stage copies more than the binary: {l!r}")
    else:
        sys.exit(f"unexpected instruction in the runtime stage: {l!r}")
print("\n".join(args))
