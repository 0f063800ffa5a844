#!/usr/bin/env bash
# Builds what the GPU machine needs but does not have: the agent jar and a jlinked Java runtime.
# Run here (with a JDK and Maven); then carry node-agent/target/mithril-agent.jar, node-agent/target/lib
# and bench/gpu/runtime to the GPU machine and run bench/gpu/run.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -q -B -DskipTests package -pl node-agent
jar=node-agent/target/mithril-agent.jar
mods=$(jdeps --multi-release 17 --ignore-missing-deps --print-module-deps --class-path 'node-agent/target/lib/*' "$jar")
rm -rf bench/gpu/runtime
jlink --add-modules "$mods,jdk.unsupported,jdk.httpserver" --strip-debug --no-header-files --no-man-pages \
  --compress=2 --output bench/gpu/runtime
du -sh bench/gpu/runtime node-agent/target/lib "$jar"
bench/gpu/runtime/bin/java -jar "$jar" --version
