#!/usr/bin/env bash
# Publish vs tar -xzf vs cp -a, ingest vs b3sum, exec overhead (docs/benchmarks.md). Usage: benchmarks/volume-bench.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -DskipTests package
exec java -Xmx2g -cp "benchmarks/target/classes:benchmarks/target/lib/*" io.mithril.bench.VolumeBench \
  "${1:-/tmp/mithril-volume-bench}" ../shared/fixtures/torch211-h100-gpt12l/inductor-triton-cache.tar.gz "$PWD/bin/mithril-agent"
