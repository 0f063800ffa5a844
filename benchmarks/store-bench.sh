#!/usr/bin/env bash
# Prints the content store's figures (docs/benchmarks.md). Usage: benchmarks/store-bench.sh [WORKDIR] [ENTRIES] [PUT_BYTES]
# Needs b3sum (Debian package) and about 6 GiB of free disk for the default sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -DskipTests package
work="${1:-/tmp/mithril-bench}"
exec java -Xmx6g -XX:+UseParallelGC -cp "benchmarks/target/classes:benchmarks/target/lib/*" \
  io.mithril.bench.StoreBench "$work" "${2:-1000000}" "${3:-1073741824}" ../shared/fixtures/torch211-h100-gpt12l/manifest.json
