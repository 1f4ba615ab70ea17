#!/usr/bin/env bash
# Time and peak RSS of `speaker-similarity export` on one data set, for every kind and
# both formats, beside `features DIR --json` (the clip vectors alone, as JSON on stdout)
# as the anchor. Usage: BIN=target/release/speaker-similarity bench/export_time.sh DIR
set -euo pipefail
BIN=${BIN:-target/release/speaker-similarity}
DATA=${1:?usage: bench/export_time.sh DATA_DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >"$TMP/stdout" 2>"$TMP/stderr" || {
    cat "$TMP/stderr" >&2; exit 1; }
  read -r secs kb <"$TMP/time"
  local size=$(du -sk "$TMP/out" 2>/dev/null | cut -f1 || echo 0)
  printf "%-50s %8.1f %10.1f %10.1f\n" "$label" "$secs" "$((kb))e-3" "${size:-0}e-3"
}
printf "%-50s %8s %10s %10s\n" "run" "seconds" "peak MB" "output MB"
measure "features DIR --json (anchor)" "$BIN" features "$DATA" --json
for fmt in npy parquet; do
  for what in clips frames embeddings clips,frames,embeddings; do
    rm -rf "$TMP/out"
    measure "export --what $what --format $fmt" "$BIN" export --data "$DATA" --out "$TMP/out" --what "$what" --format "$fmt"
  done
done
