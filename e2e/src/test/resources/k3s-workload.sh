#!/bin/sh
# K3sE2E's workload: a stand-in for torch.compile small enough to read at a glance. When its two cache
# entries are there (an Inductor FX graph and a Triton kernel folder) it reads them and prints HIT;
# otherwise it writes them the way the frameworks do (Inductor: a dot-temp file renamed into place;
# Triton: a tmp.pid_* folder renamed to the kernel key) and prints MISS. Without the injected
# variables (the webhook did not run) it compiles into /tmp, like a pod that starts cold.
set -eu
ind="${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor}"
tri="${TRITON_CACHE_DIR:-/tmp/triton}"
graph="$ind/fxgraph/k3/fk3se2egraph/entry"
kernel="$tri/K3SE2EKERNEL"
if [ -f "$graph" ] && [ -f "$kernel/triton_.cubin" ]; then
  cat "$graph" "$kernel/triton_.cubin" "$kernel/triton_.json" > /dev/null
  echo HIT
  exit 0
fi
mkdir -p "$(dirname "$graph")"
echo "compiled graph" > "$(dirname "$graph")/.entry.$$.tmp"
mv "$(dirname "$graph")/.entry.$$.tmp" "$graph"
t="$tri/tmp.pid_$$_K3SE2EKERNEL"
mkdir -p "$t"
echo "cubin" > "$t/triton_.cubin"
echo "{}" > "$t/triton_.json"
mv "$t" "$kernel"
echo MISS
