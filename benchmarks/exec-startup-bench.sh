#!/usr/bin/env bash
# What `mithril-agent exec` adds to a no-op: `bin/mithril-agent exec -- true` against `true`, side by side,
# RUNS times each (default 30) after a warm-up, on a scratch store; prints both means and the difference.
# Uses hyperfine when it is installed (apt-get install hyperfine), else a loop timed with date +%s%N.
# Run after `mvn -DskipTests package` (which makes the jar and its CDS archive). docs/benchmarks.md.
#   benchmarks/exec-startup-bench.sh [RUNS] [-- extra env, e.g. MITHRIL_JAVA_OPTS=-XX:+UseSerialGC]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export XDG_CACHE_HOME="$scratch"
agent=(bin/mithril-agent exec -- true)
"${agent[@]}" 2>/dev/null # creates the store: every timed run opens an existing one
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$scratch/h.json" --style basic true "${agent[*]}" >&2
  python3 - "$scratch/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
plain, agent = r[0]["mean"] * 1000, r[1]["mean"] * 1000
print(f"true: {plain:.1f} ms   exec -- true: {agent:.1f} ms (user {r[1]['user']*1000:.0f} ms, sys {r[1]['system']*1000:.0f} ms)   added: {agent - plain:.1f} ms")
PY
else
  mean() { # command...: mean wall time over $runs runs, in ms
    local i t0 t1 sum=0
    for ((i = 0; i < 3; i++)); do "$@" >/dev/null 2>&1; done
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
      sum=$((sum + t1 - t0))
    done
    echo $((sum / runs / 1000))
  }
  p=$(mean true); a=$(mean "${agent[@]}")
  awk -v p="$p" -v a="$a" 'BEGIN { printf "true: %.1f ms   exec -- true: %.1f ms   added: %.1f ms\n", p/1000, a/1000, (a-p)/1000 }'
fi
