#!/usr/bin/env bash
# Makes target/mithril-agent.jsa, the class-data-sharing archive bin/mithril-agent starts `exec` with
# (docs/benchmarks.md): one training run of `mithril-agent exec -- true` on a scratch store, with
# -XX:ArchiveClassesAtExit, by the JVM that runs the build. Then target/mithril-agent.jsa.size, which
# the launcher compares with the archive's size before it passes it (JDK 17 crashes on a truncated
# archive instead of ignoring it). Run by the node-agent build in its package phase.
#   cds-archive.sh JAVA TARGET_DIR
set -euo pipefail
java="$1"
target="$2"
jar="$target/mithril-agent.jar"
jsa="$target/mithril-agent.jsa"
scratch="$target/cds-training"
rm -rf "$scratch" "$jsa" "$jsa.size"
mkdir -p "$scratch/root"
# The same collector as the launcher: CDS refuses an archive dumped under another.
XDG_CACHE_HOME="$scratch/xdg" "$java" -XX:+UseSerialGC -XX:ArchiveClassesAtExit="$jsa" -Xlog:cds=off -Xlog:cds+dynamic=off \
  -jar "$jar" --root "$scratch/root" exec -- true >"$scratch/out.txt" 2>&1 || {
  cat "$scratch/out.txt" >&2
  echo "cds-archive: the training run of exec failed" >&2
  exit 1
}
if [[ ! -s "$jsa" ]]; then
  echo "cds-archive: $java wrote no archive; bin/mithril-agent will start without one" >&2
  exit 0
fi
stat -c %s "$jsa" >"$jsa.size"
rm -rf "$scratch"
