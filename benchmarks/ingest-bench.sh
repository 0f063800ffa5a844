#!/usr/bin/env bash
# Durable ingest of the real fixture (544 files, 15 MB) against `cp -a` of the same tree then one
# `sync`, side by side in one run; prints both medians and their ratio (docs/benchmarks.md).
# Usage: benchmarks/ingest-bench.sh [WORKDIR] [ROUNDS]. WORKDIR must be on the filesystem to measure.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -pl benchmarks -am -DskipTests package
work="${1:-/tmp/mithril-ingest-bench}"
rm -rf "$work" && mkdir -p "$work/tree"
tar -xzf ../shared/fixtures/torch211-h100-gpt12l/inductor-triton-cache.tar.gz -C "$work/tree"
exec java -XX:+UseParallelGC -cp "benchmarks/target/classes:benchmarks/target/lib/*" \
  io.mithril.bench.IngestBench "$work/run" "$work/tree/cache" "${2:-7}"
