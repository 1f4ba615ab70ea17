#!/usr/bin/env bash
# Speed of one 3 s query identified against many enrolled speakers (issue 10:
# <= 50 ms against 1,000 speakers on one core), top-C GMM-UBM scoring against
# exact scoring (the anchor) in the same run.
#
#   bench/identify_speed.sh [--speakers 1000] [--clips 4] [--repeats 20] [--top-c 5] [--bin PATH] [--example PATH] [--keep DIR]
#
# `synth` writes SPEAKERS x (CLIPS + 1) clips (1.5-3 s each) to a temporary folder;
# the last clip of the first speaker goes aside, two more of its clips join it
# into the query, cut to exactly 3 s (so the query's voice is enrolled but the
# query itself never was); `train --all --models gmm-ubm` enrols every speaker
# from the other clips (with its open-set calibration, which identify needs);
# then the `identify_speed` example, pinned to one core (`taskset -c 0`,
# RAYON_NUM_THREADS=1), loads the model directory (timed apart) and times the
# verdict of the query with the model's top-C scoring and with exact scoring of
# the same model: the median of REPEATS, from the features and from the decoded
# audio (`identify`'s path), with the ratio. Then `identify --json` itself runs
# once under /usr/bin/time (process start and model loading included). The
# temporary folder (about 0.3 GB at 1,000 speakers) is removed at the end, unless
# --keep DIR names the folder to work in and keep (an existing DIR/model is reused:
# at 1,000 speakers the open-set calibration makes training take minutes).
#
# Build first: cargo build --workspace --release --bins --examples
set -euo pipefail

SPEAKERS=1000
CLIPS=4
REPEATS=20
TOPC=5
KEEP=""
TGT="${CARGO_TARGET_DIR:-target}"
BIN="${BIN:-$TGT/release/speaker-similarity}"
EXAMPLE="$TGT/release/examples/identify_speed"
while [ $# -gt 0 ]; do
    case "$1" in
        --speakers) SPEAKERS="$2"; shift 2 ;;
        --clips) CLIPS="$2"; shift 2 ;;
        --repeats) REPEATS="$2"; shift 2 ;;
        --top-c) TOPC="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        --example) EXAMPLE="$2"; shift 2 ;;
        --keep) KEEP="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --workspace --release" >&2; exit 2; }
[ -x "$EXAMPLE" ] || { echo "no example at $EXAMPLE: cargo build --workspace --release --examples" >&2; exit 2; }
if [ -n "$KEEP" ]; then
    TMP="$KEEP"
    mkdir -p "$TMP"
else
    TMP="$(mktemp -d)"
    trap 'rm -rf "$TMP"' EXIT
fi

echo "cores: $(nproc) (timing pinned to core 0), $SPEAKERS speakers x $CLIPS enrolment clips, top-C $TOPC"
if [ -d "$TMP/model" ] && [ -f "$TMP/aside/query.wav" ]; then
    echo "reusing $TMP/model"
else
t0=$(date +%s.%N)
rm -rf "$TMP/corpus" "$TMP/aside"
"$BIN" synth "$TMP/corpus" --speakers "$SPEAKERS" --clips $((CLIPS + 1)) --sessions 1 >/dev/null
first="$(find "$TMP/corpus" -mindepth 1 -maxdepth 1 -type d | sort | head -n 1)"
mapfile -t own < <(find "$first" -name '*.wav' | sort)
mkdir -p "$TMP/aside"
python3 - "$TMP/aside/query.wav" "${own[@]: -1}" "${own[@]:0:2}" <<'EOF'
# The query: the first speaker's last clip (moved out of the corpus, never enrolled)
# followed by two of its enrolment clips, cut to exactly 3 s.
import sys, wave
out, parts = sys.argv[1], sys.argv[2:]
frames, params = b"", None
for p in parts:
    with wave.open(p) as w:
        params = params or w.getparams()
        frames += w.readframes(w.getnframes())
n = 3 * params.framerate * params.sampwidth * params.nchannels
assert len(frames) >= n, "the clips are shorter than 3 s together"
with wave.open(out, "wb") as w:
    w.setparams(params)
    w.writeframes(frames[:n])
EOF
rm "${own[@]: -1}"
t1=$(date +%s.%N)
/usr/bin/time -f "%e %M" -o "$TMP/train.time" "$BIN" train --data "$TMP/corpus" --out "$TMP/model" \
    --all --models gmm-ubm --top-c "$TOPC" >/dev/null
read -r train_s train_kb <"$TMP/train.time"
echo "corpus written in $(python3 -c "print(f'{$t1 - $t0:.1f}')") s; trained in $train_s s" \
    "(peak $((train_kb / 1024)) MB); model directory $(du -sh "$TMP/model" | cut -f1)"
fi
RAYON_NUM_THREADS=1 taskset -c 0 "$EXAMPLE" "$TMP/model" "$TMP/aside/query.wav" "$REPEATS"
RAYON_NUM_THREADS=1 /usr/bin/time -f "%e %M" -o "$TMP/id.time" taskset -c 0 \
    "$BIN" identify --model "$TMP/model" "$TMP/aside/query.wav" --json >"$TMP/id.json"
read -r id_s id_kb <"$TMP/id.time"
echo "identify --json (one process, one core, loading included): $id_s s, peak $((id_kb / 1024)) MB:"
cat "$TMP/id.json"
