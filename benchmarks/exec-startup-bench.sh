#!/usr/bin/env bash
# What `mithril-agent exec` adds to a no-op, side by side in one run: `true`; `bin/mithril-agent exec -- true`
# on its own (no agent on the root: it opens the store itself); and the same exec through a resident agent
# (`serve` on the root prepares the run, docs/volumes.md), first while the agent is fresh (its JIT cold), then
# after WARM further runs (default 300) have warmed it. RUNS timed runs each (default 30), after 3 warm-ups.
# Uses hyperfine when it is installed (apt-get install hyperfine), else a loop timed with date +%s%N.
# Run after `mvn -DskipTests package` (which makes the jar and its CDS archive). docs/benchmarks.md.
#   benchmarks/exec-startup-bench.sh [RUNS] [WARM]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"
warm="${2:-300}"
scratch="$(mktemp -d)"
serve=
cleanup() {
  if [[ -n "$serve" ]]; then
    kill "$serve" 2>/dev/null || true
    wait "$serve" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$scratch/alone" "$scratch/resident"
alone=(bin/mithril-agent --root "$scratch/alone" exec -- true)
resident=(bin/mithril-agent --root "$scratch/resident" exec -- true)
"${alone[@]}" 2>/dev/null # creates the store: every timed run opens an existing one
bin/mithril-agent --root "$scratch/resident" serve --listen 127.0.0.1:0 >"$scratch/serve.log" 2>&1 &
serve=$!
for ((i = 0; i < 600; i++)); do
  [[ -f "$scratch/resident/agent/pid" ]] && break
  sleep 0.1
done
[[ -f "$scratch/resident/agent/pid" ]] || { cat "$scratch/serve.log" >&2; echo "serve did not start" >&2; exit 1; }

# one line per command: mean wall ms, user ms, sys ms
measure() { # label...: hyperfine over true, exec alone and exec through the agent
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 3 --runs "$runs" --export-json "$scratch/h.json" --style none \
      true "${alone[*]}" "${resident[*]}" >/dev/null 2>&1
    python3 - "$scratch/h.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['mean']*1000:.1f} {r['user']*1000:.0f} {r['system']*1000:.0f}")
PY
  else
    local cmd i t0 t1 sum
    for cmd in true alone resident; do
      local -a c=(true)
      [[ "$cmd" == alone ]] && c=("${alone[@]}")
      [[ "$cmd" == resident ]] && c=("${resident[@]}")
      for ((i = 0; i < 3; i++)); do "${c[@]}" >/dev/null 2>&1; done
      sum=0
      for ((i = 0; i < runs; i++)); do
        t0=$(date +%s%N); "${c[@]}" >/dev/null 2>&1; t1=$(date +%s%N)
        sum=$((sum + t1 - t0))
      done
      awk -v s="$sum" -v n="$runs" 'BEGIN { printf "%.1f - -\n", s / n / 1e6 }'
    done
  fi
}
report() { # label, then the three lines of measure
  local label="$1" t a r
  read -r t _ _ <<<"$2"
  read -r a au as <<<"$3"
  read -r r ru rs <<<"$4"
  awk -v l="$label" -v t="$t" -v a="$a" -v au="$au" -v as="$as" -v r="$r" -v ru="$ru" -v rs="$rs" 'BEGIN {
    printf "%s: true %.1f ms | exec alone %.1f ms (user %s, sys %s): added %.1f ms | through the agent %.1f ms (user %s, sys %s): added %.1f ms (%.2fx less)\n",
      l, t, a, au, as, a - t, r, ru, rs, r - t, (a - t) / (r - t) }'
}
mapfile -t fresh < <(measure)
report "fresh agent" "${fresh[@]}"
for ((i = 0; i < warm; i++)); do "${resident[@]}" >/dev/null 2>&1; done
mapfile -t warmed < <(measure)
report "agent after $warm more runs" "${warmed[@]}"
curl -fsS "http://$(grep -o '127.0.0.1:[0-9]*' "$scratch/serve.log" | head -1)/metrics" 2>/dev/null |
  grep '^mithril_exec_requests_total' || true
