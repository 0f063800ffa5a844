#!/bin/sh
# A workload that behaves like torch.compile with Inductor and Triton, replaying the real H100 fixture
# (../shared/fixtures/torch211-h100-gpt12l): when every file a warm start reads is in its cache
# folders it reads them all (a hit) and writes nothing; otherwise it writes the whole fixture tree the
# way the frameworks do (Inductor: temp file renamed into place; Triton: tmp.pid_* folder renamed to
# the kernel key). Args: FIXTURE_CACHE_DIR WARM_READS_FILE [PAUSE_S]; PAUSE_S: seconds to pause between
# the Inductor and the Triton part of a compile. Prints "HIT n" or "MISS n".
set -eu
fx="$1"
reads="$2"
pause="${3:-0}"
ind="$TORCHINDUCTOR_CACHE_DIR"
tri="$TRITON_CACHE_DIR"
map() {
  case "$1" in
    inductor/*) echo "$ind/${1#inductor/}" ;;
    triton/*) echo "$tri/${1#triton/}" ;;
  esac
}
hit=1
while IFS= read -r r; do
  [ -f "$(map "$r")" ] || { hit=0; break; }
done < "$reads"
if [ "$hit" = 1 ]; then
  n=0
  while IFS= read -r r; do
    cat "$(map "$r")" > /dev/null
    n=$((n + 1))
  done < "$reads"
  echo "HIT $n"
  exit 0
fi
n=0
mkdir -p "$ind" "$tri"
for f in $(cd "$fx/inductor" && find . -type f); do
  d="$ind/$(dirname "$f")"
  mkdir -p "$d"
  cp "$fx/inductor/$f" "$d/.tmp.$$"
  mv "$d/.tmp.$$" "$ind/$f"
  n=$((n + 1))
done
sleep "$pause"
for k in "$fx"/triton/*; do
  key=$(basename "$k")
  [ -e "$tri/$key" ] && continue
  t="$tri/tmp.pid_$$_$key"
  mkdir -p "$t"
  cp "$k"/* "$t"/
  n=$((n + $(ls "$t" | wc -l)))
  mv "$t" "$tri/$key"
done
echo "MISS $n"
