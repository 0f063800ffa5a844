#!/usr/bin/env bash
# CompileCache reconciler against the mock API server: first reconcile, per-reconcile time, API requests and
# agent fetches per reconcile, writes in steady state (docs/benchmarks.md).
# Usage: benchmarks/reconcile-bench.sh [AGENTS=50] [COMPILECACHES=100] [NAMESPACES=10] [RESYNC_S=30]
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -DskipTests package
exec java -Xmx1g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "benchmarks/target/classes:benchmarks/target/lib/*" \
  io.mithril.bench.ReconcileBench "${1:-50}" "${2:-100}" "${3:-10}" "${4:-30}"
