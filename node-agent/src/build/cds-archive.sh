#!/usr/bin/env bash
# Makes target/mithril-agent.jsa, the class-data-sharing archive bin/mithril-agent starts `exec` with
# (docs/benchmarks.md), by the JVM that runs the build, with -XX:ArchiveClassesAtExit. The training run
# is one `exec -- true` that takes both of exec's paths: a resident agent (`serve`) runs on the scratch
# root, and the exec names a budget the agent does not have, so the agent declines it after the whole
# handshake and the exec then runs by itself. Then target/mithril-agent.jsa.size, which the launcher
# compares with the archive's size before it passes it (JDK 17 crashes on a truncated archive instead
# of ignoring it). Run by the node-agent build in its package phase.
#   cds-archive.sh JAVA TARGET_DIR
set -euo pipefail
java="$1"
target="$2"
jar="$target/mithril-agent.jar"
jsa="$target/mithril-agent.jsa"
scratch="$target/cds-training"
rm -rf "$scratch" "$jsa" "$jsa.size"
mkdir -p "$scratch/root"
"$java" -XX:+UseSerialGC -jar "$jar" --root "$scratch/root" serve --listen 127.0.0.1:0 >"$scratch/serve.txt" 2>&1 &
serve=$!
stop_serve() {
  kill "$serve" 2>/dev/null || true
  wait "$serve" 2>/dev/null || true
}
trap stop_serve EXIT
for ((i = 0; i < 300; i++)); do # the agent is up once its pid file is there (at most 30 s)
  [[ -f "$scratch/root/agent/pid" ]] && break
  kill -0 "$serve" 2>/dev/null || break
  sleep 0.1
done
if [[ ! -f "$scratch/root/agent/pid" ]]; then
  cat "$scratch/serve.txt" >&2
  echo "cds-archive: the training agent did not start; training exec alone" >&2
fi
# The same collector as the launcher: CDS refuses an archive dumped under another.
XDG_CACHE_HOME="$scratch/xdg" "$java" -XX:+UseG1GC -XX:ArchiveClassesAtExit="$jsa" -Xlog:cds=off -Xlog:cds+dynamic=off \
  -jar "$jar" --root "$scratch/root" exec --budget 1Gi -- true >"$scratch/out.txt" 2>&1 || {
  cat "$scratch/out.txt" >&2
  echo "cds-archive: the training run of exec failed" >&2
  exit 1
}
stop_serve
trap - EXIT
if [[ ! -s "$jsa" ]]; then
  echo "cds-archive: $java wrote no archive; bin/mithril-agent will start without one" >&2
  exit 0
fi
stat -c %s "$jsa" >"$jsa.size"
rm -rf "$scratch"
