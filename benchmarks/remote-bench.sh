#!/usr/bin/env bash
# The remote tier on loopback S3Proxy (docs/benchmarks.md, "Remote tier"): upload cost of a cold run, restore vs one tar GET
# vs the local warm publish, N fresh roots at once. Usage: benchmarks/remote-bench.sh [WORKDIR] [N] [fixture-only]
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/mithril-remote-bench}"
n="${2:-20}"
[ -n "${SKIP_BUILD:-}" ] || mvn -q -B -o -pl benchmarks,s3proxy-harness -am package -DskipTests -Dmithril.cds.skip=true
s3="$work-s3proxy"
rm -rf "$s3" && mkdir -p "$s3/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$s3/s3proxy.properties" <<P
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=mithril-bench
s3proxy.credential=mithril-bench-secret
jclouds.provider=filesystem
jclouds.filesystem.basedir=$s3/data
P
java -Xmx512m -cp "$(cat s3proxy-harness/target/s3proxy.classpath)" org.gaul.s3proxy.Main --properties "$s3/s3proxy.properties" \
  > "$s3/s3proxy.out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$s3"' EXIT
for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
echo "S3Proxy 4.0.0 (filesystem backend) on 127.0.0.1:$port; $(nproc) cores"
java -Xmx3g -cp "benchmarks/target/classes:benchmarks/target/lib/*" io.mithril.bench.RemoteBench \
  "$work" ../shared/fixtures/torch211-h100-gpt12l/inductor-triton-cache.tar.gz "http://127.0.0.1:$port" "$n" ${3:-}
