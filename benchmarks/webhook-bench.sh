#!/usr/bin/env bash
# Admission webhook latency over HTTPS vs PodMutator alone (docs/benchmarks.md).
# Usage: benchmarks/webhook-bench.sh [THREADS=8] [WARMUP_S=5] [SECONDS=20] [PLAIN_EVERY=5]
# Runs twice: the JVM's defaults, then with -Dsun.net.httpserver.nodelay=true (what OperatorMain sets)
# (TCP_NODELAY on the JDK server's sockets; the property is read once per JVM, hence two JVMs).
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -DskipTests package
for opts in "" "-Dsun.net.httpserver.nodelay=true"; do
  echo "### java ${opts:-(defaults)}"
  java -Xmx1g $opts -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "benchmarks/target/classes:benchmarks/target/lib/*" \
    io.mithril.bench.WebhookBench operator/src/test/resources/admission/gpu-pod-review.json \
    "${1:-8}" "${2:-5}" "${3:-20}" "${4:-5}"
done
