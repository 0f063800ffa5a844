#!/usr/bin/env bash
# The remote tier on loopback S3Proxy with real agent processes (docs/benchmarks.md, "Remote tier"), both groups
# in one run: upload cost of a cold run, restore into a fresh root vs one tar GET vs the local warm publish, and
# N fresh roots as N `bin/mithril-agent exec --remote` processes released at once; requests and bytes counted at
# a relay in front of S3Proxy. Starts and stops its own S3Proxy on a free port; removes its work folder.
# Progress goes to stderr; stdout ends with the summary tables (markdown).
#   benchmarks/remote-bench.sh [WORKDIR] [N_FIXTURE] [N_SYNTHETIC] [fixture-only|synthetic-only]
# Defaults: /tmp/mithril-remote-bench, 20, 20. SKIP_BUILD=1 uses what target/ holds; FIXTURE=path/to/the.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/mithril-remote-bench}"
n="${2:-20}"
nsyn="${3:-20}"
only="${4:-}"
if [ -z "${SKIP_BUILD:-}" ]; then
  mvn -q -B -o -pl benchmarks,s3proxy-harness -am package -DskipTests
fi
[ -f node-agent/target/mithril-agent.jar ] || { echo "remote-bench: node-agent/target/mithril-agent.jar missing" >&2; exit 3; }
[ -f s3proxy-harness/target/s3proxy.classpath ] || { echo "remote-bench: s3proxy-harness not built" >&2; exit 3; }
s3="$work-s3proxy"
rm -rf "$work" "$s3" && mkdir -p "$s3/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$s3/s3proxy.properties" <<P
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=mithril-bench
s3proxy.credential=mithril-bench-secret
jclouds.provider=filesystem
jclouds.filesystem.basedir=$s3/data
P
cat > "$s3/logback.xml" <<L
<configuration><appender name="F" class="ch.qos.logback.core.FileAppender"><file>$s3/s3proxy.log</file>
<encoder><pattern>%d %level %logger{20} %msg%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="F"/></root></configuration>
L
s3pid=""
benchpid=""
cleanup() {
  [ -n "$benchpid" ] && kill "$benchpid" 2>/dev/null || true
  [ -n "$s3pid" ] && kill "$s3pid" 2>/dev/null && wait "$s3pid" 2>/dev/null || true
  rm -rf "$s3" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
java -Xmx1g -XX:+UseSerialGC -Dlogback.configurationFile="$s3/logback.xml" \
  -cp "$(cat s3proxy-harness/target/s3proxy.classpath)" org.gaul.s3proxy.Main --properties "$s3/s3proxy.properties" \
  > "$s3/s3proxy.out" 2>&1 &
s3pid=$!
for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || { echo "remote-bench: S3Proxy did not listen:" >&2; cat "$s3/s3proxy.out" >&2; exit 1; }
cds="without a CDS archive"
[ -f node-agent/target/mithril-agent.jsa ] && cds="with its CDS archive"
echo "# remote-bench: S3Proxy 4.0.0 (filesystem backend) on 127.0.0.1:$port behind a counting relay; agents:" \
  "bin/mithril-agent ($cds); $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%FT%TZ);" \
  "commit $(git rev-parse --short HEAD); load average $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
java -Xmx1g -cp "benchmarks/target/classes:benchmarks/target/lib/*" io.mithril.bench.RemoteBench \
  "$work" "${FIXTURE:-$PWD/../shared/fixtures/torch211-h100-gpt12l/inductor-triton-cache.tar.gz}" "http://127.0.0.1:$port" \
  "$PWD/bin/mithril-agent" "$n" "$nsyn" $only &
benchpid=$!
wait "$benchpid"
benchpid=""
echo "# remote-bench: $(( $(date +%s) - start )) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
