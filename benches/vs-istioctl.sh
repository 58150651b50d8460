#!/usr/bin/env bash
# `meshgate check` against `istioctl analyze --use-kube=false` on the same
# synthetic inputs, run alternately, RUNS times each (default 3): median wall
# time, peak RSS and the ratio per input. A benchmark, not a test: the machine is
# shared, so read the table with its noise; results go to docs/performance.md.
# Usage: benches/vs-istioctl.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
work="${SYNTH_ROOT:-/tmp/meshgate-vs-istioctl}"
istioctl="$(bash benches/build-istioctl.sh)"
cargo build --release --bin meshgate --example synth >&2
meshgate=./target/release/meshgate
synth=./target/release/examples/synth

# name | objects asked of synth | files (0 = one object per file)
inputs=(
  "1,100 one-object files|1000|0"
  "11,000 one-object files|10000|0"
  "11,000 objects in one file|10000|1"
  "44,000 objects in one file|40000|1"
  "88,000 objects in one file|80000|1"
  "88,000 objects in two files|80000|2"
  "88,000 one-object files|80000|0"
)


median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '| input | istioctl | meshgate | time ratio |\n|---|---|---|---|\n'
for spec in "${inputs[@]}"; do
  IFS='|' read -r name objects files <<<"$spec"
  dir="$work/$objects-$files"
  [ -d "$dir" ] || "$synth" "$dir" "$objects" "$files" >&2
  it=(); im=(); mt=(); mm=(); ifail=0
  for _ in $(seq "$runs"); do
    # istioctl walks a directory itself. It exits non-zero when it finds issues
    # too, so a failure is an "Error:" line of its own (e.g. too many open files).
    /usr/bin/time -o /tmp/vs-istioctl.time -f "%e %M" "$istioctl" analyze --use-kube=false --all-namespaces "$dir" >/tmp/vs-istioctl.out 2>&1 || true
    read -r t m </tmp/vs-istioctl.time
    if grep -q "^Error\|too many open files" /tmp/vs-istioctl.out; then ifail=1; fi
    it+=("$t"); im+=("$m")
    /usr/bin/time -o /tmp/vs-istioctl.time -f "%e %M" "$meshgate" check --fail-on never "$dir" >/dev/null 2>&1
    read -r t m </tmp/vs-istioctl.time
    mt+=("$t"); mm+=("$m")
  done
  ist=$(printf '%s\n' "${it[@]}" | median); isr=$(printf '%s\n' "${im[@]}" | median)
  mgt=$(printf '%s\n' "${mt[@]}" | median); mgr=$(printf '%s\n' "${mm[@]}" | median)
  if [ "$ifail" = 1 ]; then
    icell="fails: $(grep -m1 "^Error\|too many open files" /tmp/vs-istioctl.out | cut -c1-60)"
    ratio="—"
  else
    icell="${ist} s, $((isr / 1024)) MiB"
    ratio=$(echo "scale=1; $ist / $mgt" | bc)"×"
  fi
  printf '| %s | %s | %s s, %s MiB | %s |\n' "$name" "$icell" "$mgt" "$((mgr / 1024))" "$ratio"
done
