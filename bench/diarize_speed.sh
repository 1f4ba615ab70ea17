#!/usr/bin/env bash
# Speed and memory of `diarize` on long recordings built with `mix`.
#
#   bench/diarize_speed.sh [--data DIR] [--minutes "10 60 120"] [--speakers 4] [--bin PATH]
#
# For every length, `mix` builds a conversation (every clip of the data set, seed 1;
# the synthetic corpus without --data), then `diarize --truth` runs under
# /usr/bin/time: wall time, real-time factor (processing time over audio time),
# peak resident memory and the DER. The anchor a user would pick instead,
# pyannote.audio, cannot run here (its weights come from a model hub that is not
# reachable): its model card states a real-time factor of about 2.5 % on one V100
# GPU, an exception to "anchor in the same run". Scratch WAVs (115 MB an hour) go to
# a temporary folder removed at the end.
set -euo pipefail

DATA=""
MINUTES="10 60 120"
SPEAKERS=4
BIN="${BIN:-target/release/speaker-similarity}"
while [ $# -gt 0 ]; do
    case "$1" in
        --data) DATA="$2"; shift 2 ;;
        --minutes) MINUTES="$2"; shift 2 ;;
        --speakers) SPEAKERS="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --workspace --release" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 2; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
data_args=()
[ -n "$DATA" ] && data_args=(--data "$DATA")
echo "cores: $(nproc), data: ${DATA:-synthetic}, $SPEAKERS speakers"
printf "%8s %10s %8s %10s %8s\n" minutes wall_s rtf peak_MB DER
for m in $MINUTES; do
    wav="$TMP/long_$m.wav"
    "$BIN" mix "$wav" "${data_args[@]}" --clips all --speakers "$SPEAKERS" \
        --duration $((m * 60)) --seed 1 >/dev/null
    /usr/bin/time -f "%e %M" -o "$TMP/time" "$BIN" diarize "$wav" --truth "${wav%.wav}.rttm" \
        --json >"$TMP/res.json"
    read -r wall rss <"$TMP/time"
    der=$(python3 -c "import json,sys; print(f\"{100*json.load(open(sys.argv[1]))['der']['der']:.2f} %\")" "$TMP/res.json")
    rtf=$(python3 -c "print(f'{$wall / ($m * 60):.4f}')")
    printf "%8s %10s %8s %10s %8s\n" "$m" "$wall" "$rtf" "$((rss / 1024))" "$der"
    rm -f "$wav"
done
