#!/usr/bin/env bash
# StoreBench inside a memory cgroup, as the agent runs in its container: the chart's JVM options
# (-XX:+UseSerialGC -XX:MaxRAMPercentage=70, so the heap follows the limit) under a hard memory
# limit, no swap. Prints the bench's figures, then the cgroup's peak usage, how often it hit the
# limit, and whether anything was killed.
#
# Usage: benchmarks/memory-limit-bench.sh WORKDIR [LIMIT_BYTES] [ENTRIES]
#   defaults: 1 GiB (the chart's agent limit) and 2000000f (fixture shapes, 9,999,992 files);
#   HEAP_PERCENT (default 70, the chart's MaxRAMPercentage) sets the heap's share of the limit.
# Needs root and a writable memory cgroup (v1 or v2); build first with
#   mvn -B -q -pl benchmarks -am package -DskipTests
set -euo pipefail
work=${1:?usage: $0 WORKDIR [LIMIT_BYTES] [ENTRIES]}
limit=${2:-1073741824}
entries=${3:-2000000f}
here=$(cd "$(dirname "$0")/.." && pwd)
cp="$here/benchmarks/target/classes:$here/benchmarks/target/lib/*"

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    cg=/sys/fs/cgroup/mithril-bench-$$
    mkdir "$cg"
    echo "$limit" > "$cg/memory.max"
    echo 0 > "$cg/memory.swap.max" 2>/dev/null || true
    peak() { cat "$cg/memory.peak" 2>/dev/null || echo "n/a"; }
    events() { grep -E '^(max|oom|oom_kill) ' "$cg/memory.events" | tr '\n' ' '; }
else
    cg=/sys/fs/cgroup/memory/mithril-bench-$$
    mkdir "$cg"
    echo "$limit" > "$cg/memory.limit_in_bytes"
    peak() { cat "$cg/memory.max_usage_in_bytes"; }
    events() { echo "limit hit $(cat "$cg/memory.failcnt") times; $(grep -E '^oom_kill ' "$cg/memory.oom_control" || echo 'oom_kill n/a')"; }
fi
trap 'rmdir "$cg" 2>/dev/null || true' EXIT

rm -rf "$work"
mkdir -p "$work"
echo "# memory limit $((limit >> 20)) MiB, cgroup $cg"
set +e
bash -c "echo \$\$ > '$cg/cgroup.procs'; exec java -XX:+UseSerialGC -XX:MaxRAMPercentage=${HEAP_PERCENT:-70} -cp '$cp' io.mithril.bench.StoreBench '$work' '$entries' 0"
rc=$?
set -e
echo "# exit status $rc; peak usage $(( $(peak) >> 20 )) MiB of $((limit >> 20)) MiB; $(events)"
rm -rf "$work"
exit $rc
