#!/bin/sh
# A stand-in for a torch.compile job, for trying Mithril without a GPU: the first run "compiles"
# (sleeps 2 s and writes an Inductor-shaped cache entry); a run that finds the entry reads it instead.
set -eu
: "${TORCHINDUCTOR_CACHE_DIR:?run me through: bin/mithril-agent exec -- $0}"
entry="$TORCHINDUCTOR_CACHE_DIR/fxgraph/de/fdemo0graph"
if [ -f "$entry/graph.pkl" ]; then
  cat "$entry/graph.pkl" "$TORCHINDUCTOR_CACHE_DIR/de/cdemo0kernel.py" > /dev/null
  echo "demo: cache hit, no compile"
else
  echo "demo: cache miss, compiling (2 s)..."
  sleep 2
  mkdir -p "$entry" "$TORCHINDUCTOR_CACHE_DIR/de"
  head -c 200000 /dev/urandom > "$entry/.tmp.$$" && mv "$entry/.tmp.$$" "$entry/graph.pkl"
  echo "def kernel(): pass" > "$TORCHINDUCTOR_CACHE_DIR/de/cdemo0kernel.py"
fi
