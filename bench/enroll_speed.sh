#!/usr/bin/env bash
# Enrolment speed (issue 10): one speaker enrolled from 10 clips into a model with
# 100 speakers, goal <= 2 s, against its anchor in the same run: training the whole
# model again with the speaker added (what enrolment without retraining avoids).
#
#   bench/enroll_speed.sh [--speakers 100] [--clips 10] [--repeat 3] [--bin PATH]
#
# 1. `synth` writes a corpus of SPEAKERS speakers x CLIPS clips (seed 1), and a second
#    corpus (seed 7: other voices) whose first speaker is the new voice, `new001`.
# 2. `train --all --out` trains the model on the SPEAKERS speakers (its defaults:
#    `--models main`, the open-set calibration).
# 3. `enroll --model M --speaker new001 FILE...` (the new voice's CLIPS clips), timed
#    REPEAT times, each time from a fresh copy of the trained model directory (the
#    first adds the speaker; a second run on the same directory would replace it):
#    wall time of the whole process (/usr/bin/time) and `enroll --json`'s own split
#    (load, features, enrol, save).
# 4. The anchor: `train --all --out` on the SPEAKERS + 1 speakers.
# Prints the median enrolment time, the anchor's time and the ratio. Release build:
# `cargo build --workspace --release`. Scratch data (about 15 MB of WAV for 100
# speakers x 10 clips) goes to a temporary folder removed at the end.
set -euo pipefail

SPEAKERS=100
CLIPS=10
REPEAT=3
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/speaker-similarity}"
while [ $# -gt 0 ]; do
    case "$1" in
        --speakers) SPEAKERS="$2"; shift 2 ;;
        --clips) CLIPS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --workspace --release" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 2; }
[ "$REPEAT" -ge 1 ] || { echo "--repeat must be >= 1" >&2; exit 2; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Wall seconds and peak MB of a command, its stdout into $TMP/out.json.
timed() {
    /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >"$TMP/out.json" 2>"$TMP/err" || {
        cat "$TMP/err" >&2; exit 1; }
    read -r WALL RSS <"$TMP/time"
    PEAK_MB=$((RSS / 1024))
}

echo "cores: $(nproc); $SPEAKERS speakers x $CLIPS clips (synthetic, seed 1); new voice: $CLIPS clips (seed 7)"
"$BIN" synth "$TMP/base" --speakers "$SPEAKERS" --clips "$CLIPS" --seed 1 >/dev/null
"$BIN" synth "$TMP/other" --speakers 2 --clips "$CLIPS" --seed 7 >/dev/null
new_src=$(find "$TMP/other" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)
mapfile -t FILES < <(find "$new_src" -name '*.wav' | sort)
[ "${#FILES[@]}" -eq "$CLIPS" ] || { echo "expected $CLIPS clips of the new voice, got ${#FILES[@]}" >&2; exit 1; }

timed "$BIN" train --data "$TMP/base" --all --out "$TMP/model" --json
train_s=$WALL
echo "train --all on $SPEAKERS speakers: $train_s s, peak $PEAK_MB MB; model directory $(du -sh "$TMP/model" | cut -f1)"

times=()
for r in $(seq 1 "$REPEAT"); do
    rm -rf "$TMP/m"
    cp -r "$TMP/model" "$TMP/m"
    timed "$BIN" enroll --model "$TMP/m" --speaker new001 --name "New Voice" "${FILES[@]}" --json
    times+=("$WALL")
    split=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); s=d['seconds']; print(f\"speakers {d['speakers']}, load {s['load']:.3f} s, features {s['features']:.3f} s, enrol {s['enrol']:.3f} s, save {s['save']:.3f} s; out of date: {[o['model'] for o in d['out_of_date']] or 'none'}\")" "$TMP/out.json")
    echo "enroll run $r: $WALL s wall, peak $PEAK_MB MB ($split)"
done
enroll_s=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (REPEAT + 1) / 2 ))p")

# The anchor: the same corpus with the new voice added, trained again.
cp -al "$TMP/base" "$TMP/full"
cp -r "$new_src" "$TMP/full/new001"
rm -rf "$TMP/m"
timed "$BIN" train --data "$TMP/full" --all --out "$TMP/m" --json
retrain_s=$WALL
echo "anchor: train --all on $((SPEAKERS + 1)) speakers: $retrain_s s, peak $PEAK_MB MB"
python3 - "$enroll_s" "$retrain_s" "$SPEAKERS" "$CLIPS" <<'EOF'
import sys
enroll, retrain, speakers, clips = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
goal = "met" if enroll <= 2.0 else "NOT met"
print(f"enroll 1 speaker from {clips} clips into {speakers}: {enroll:.2f} s (median), goal <= 2 s {goal}; "
      f"retrain with it: {retrain:.1f} s; enrol is {retrain / enroll:.0f}x faster")
EOF
