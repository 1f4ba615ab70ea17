#!/usr/bin/env bash
# Wall-clock of sharded training against one whole-set `train --all`, on one data
# set: the UBM once, N shards one after the other, the merge; then the same through
# Ray (scripts/ray_shards.py, local Ray); and whether the merged models equal the
# whole-set ones (models.json without the training times, history.json).
#
#   BIN=target/release/speaker-similarity PY_RAY=.venv-ray/bin/python \
#     bench/shard_timings.sh DATA_DIR WORK_DIR [N]
set -euo pipefail
DATA=$1; WORK=$2; N=${3:-3}
BIN=${BIN:-target/release/speaker-similarity}
PY_RAY=${PY_RAY:-.venv-ray/bin/python}
rm -rf "$WORK"; mkdir -p "$WORK"
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

t0=$(now); "$BIN" train --data "$DATA" --all --out "$WORK/whole" >/dev/null 2>&1; t1=$(now)
echo "whole-set train --all: $(secs "$t0" "$t1") s"
t0=$(now); "$BIN" train --data "$DATA" --ubm-only --out "$WORK/ubm" >/dev/null 2>&1; t1=$(now)
echo "train --ubm-only: $(secs "$t0" "$t1") s"
shards=()
tall=$t1
for k in $(seq 0 $((N - 1))); do
  t0=$(now)
  "$BIN" train --data "$DATA" --ubm "$WORK/ubm" --shard "$k/$N" --out "$WORK/shard-$k" >/dev/null 2>&1
  t1=$(now); echo "  shard $k/$N: $(secs "$t0" "$t1") s"
  shards+=("$WORK/shard-$k")
done
echo "$N shards, one after the other: $(secs "$tall" "$t1") s"
t0=$(now); "$BIN" merge --out "$WORK/merged" "${shards[@]}" >/dev/null 2>&1; t1=$(now)
echo "merge: $(secs "$t0" "$t1") s"
"$PY_RAY" scripts/ray_shards.py --bin "$BIN" --data "$DATA" --work "$WORK/ray" --shards "$N" \
  | python3 -c 'import json,sys; s=json.load(sys.stdin)["seconds"]; print("ray: init {ray_init:.1f} s, ubm {ubm:.1f} s, {n} shards in parallel {shards_wall:.1f} s (each {each}), merge {merge:.1f} s, total {total:.1f} s".format(n=len(s["shards_each"]), each=", ".join(f"{x:.1f}" for x in s["shards_each"]), **s))'
python3 - "$WORK" <<'PY'
import json, sys
from pathlib import Path
w = Path(sys.argv[1])
def m(d):
    v = json.loads((d / "models.json").read_text()); v["model"].pop("train_seconds"); return v
a = m(w / "whole")
for other in ["merged", "ray/model"]:
    b = m(w / other)
    same = a == b and (w / "whole/history.json").read_bytes() == (w / other / "history.json").read_bytes()
    print(f"{other}: {'bit-identical to' if same else 'DIFFERS from'} the whole-set models")
PY
