#!/usr/bin/env bash
# Real torch.compile through `mithril-agent exec` on a GPU machine (PyTorch + Triton, no Java, no network).
# Scenarios, each a fresh Python process:
#   cold      empty store root R1                    -> compiles, Mithril ingests
#   warm      same root R1                           -> Mithril publishes, Inductor hits
#   moved     the store copied to a fresh root R2    -> hits from another path (entries are relocatable)
#   floor-*   no Mithril: PyTorch's own cache dir kept in place (cold once, then warm) = the floor
# Writes $OUT/gpu-results.jsonl (one line per run) and prints a table. Prepare with bench/gpu/prepare.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
export JAVA="${JAVA:-$PWD/bench/gpu/runtime/bin/java}"
WORKLOAD="${WORKLOAD:-python3 $PWD/bench/gpu/compile_step.py}"
MODE="${MODE:-default}"
work="$(mktemp -d /tmp/mithril-gpu.XXXXXX)"
results="$OUT/gpu-results.jsonl"
: > "$results"
agent="$PWD/bin/mithril-agent"
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || echo "no nvidia-smi" > "$OUT/gpu.txt"

run() { # name, then the command; appends the workload's JSON line and the exec summary
  local name="$1"; shift
  local t0 t1 line summary
  t0=$(date +%s.%N)
  line=$(MODE="$MODE" "$@" 2> "$work/$name.err" | tail -n 1) || true
  t1=$(date +%s.%N)
  summary=$(grep -o 'mithril: .*' "$work/$name.err" | tail -n 1 | sed 's/"/\\"/g' || true)
  printf '{"scenario":"%s","wall_s":%.3f,"workload":%s,"mithril":"%s"}\n' "$name" "$(python3 -c "print($t1 - $t0)")" \
    "${line:-null}" "$summary" | tee -a "$results"
  cp "$work/$name.err" "$OUT/$name.stderr.txt"
}

mkdir -p "$work/R1"
run cold  "$agent" --root "$work/R1" exec --cache gpt -- $WORKLOAD
run warm  "$agent" --root "$work/R1" exec --cache gpt -- $WORKLOAD
cp -a "$work/R1" "$work/R2" && rm -rf "$work/R2/views" "$work/R2/leases"/*
run moved "$agent" --root "$work/R2" exec --cache gpt -- $WORKLOAD
mkdir -p "$work/plain"
run floor-cold env TORCHINDUCTOR_CACHE_DIR="$work/plain/inductor" TRITON_CACHE_DIR="$work/plain/triton" $WORKLOAD
run floor-warm env TORCHINDUCTOR_CACHE_DIR="$work/plain/inductor" TRITON_CACHE_DIR="$work/plain/triton" $WORKLOAD
"$agent" --root "$work/R1" stats > "$OUT/store-stats.txt"
"$agent" --root "$work/R1" verify >> "$OUT/store-stats.txt"
echo "results: $results"
