#!/usr/bin/env bash
# Pooled diarization error rate on test conversations built with `mix`.
#
#   bench/diarize_der.sh [--data DIR] [--seeds 3] [--speakers "2 3 4"] [--duration 60]
#                        [--snr DB] [--given] [--collar 0.5] [--count-rule RULE]
#                        [--bin PATH]
#
# For every speaker count and seed 0..seeds-1, `mix` builds a conversation from the
# test side of the default honest split (no overlap; pink noise at --snr when given),
# `diarize --truth` scores it (collar ±0.25 s, NIST; --collar is the total width, 0 for
# none), with the number of speakers estimated, or given with --given. Prints one line per conversation and the pooled
# DER (missed + false alarm + confusion over the total reference speech) per count.
# Without --data the built-in synthetic corpus is used. Scratch files go to a temporary
# folder that is removed at the end.
set -euo pipefail

DATA=""
SEEDS=3
SPEAKERS="2 3 4"
DURATION=60
SNR=""
GIVEN=0
COLLAR=0.5
RULE=threshold
BIN="${BIN:-target/release/speaker-similarity}"
while [ $# -gt 0 ]; do
    case "$1" in
        --data) DATA="$2"; shift 2 ;;
        --seeds) SEEDS="$2"; shift 2 ;;
        --speakers) SPEAKERS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --snr) SNR="$2"; shift 2 ;;
        --given) GIVEN=1; shift ;;
        --collar) COLLAR="$2"; shift 2 ;;
        --count-rule) RULE="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ ! -x "$BIN" ]; then
    echo "no binary at $BIN: run 'cargo build --workspace --release' (or give --bin)" >&2
    exit 2
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

data_args=()
[ -n "$DATA" ] && data_args=(--data "$DATA")
snr_args=()
[ -n "$SNR" ] && snr_args=(--snr "$SNR")

for n in $SPEAKERS; do
    for seed in $(seq 0 $((SEEDS - 1))); do
        wav="$TMP/conv_${n}_${seed}.wav"
        "$BIN" mix "$wav" "${data_args[@]}" --speakers "$n" --duration "$DURATION" \
            --seed "$seed" "${snr_args[@]}" >/dev/null
        given_args=()
        [ "$GIVEN" = 1 ] && given_args=(--speakers "$n")
        "$BIN" diarize "$wav" --truth "${wav%.wav}.rttm" --collar "$COLLAR" --count-rule "$RULE" --json "${given_args[@]}" \
            >"$TMP/res_${n}_${seed}.json"
        rm -f "$wav"
    done
done

python3 - "$TMP" "$SPEAKERS" "$SEEDS" "$GIVEN" "${DATA:-synthetic}" "${SNR:-none}" "$COLLAR" <<'EOF'
import json, sys
tmp, speakers, seeds, given, data, snr, collar = sys.argv[1:]
speakers = [int(s) for s in speakers.split()]
seeds = int(seeds)
print(f"data {data}, snr {snr} dB, speakers {'given' if given == '1' else 'estimated'}, "
      f"{seeds} seeds, collar ±{float(collar) / 2:g} s")
grand = [0.0] * 4
row = []
for n in speakers:
    pooled = [0.0] * 4
    right = 0
    for s in range(seeds):
        r = json.load(open(f"{tmp}/res_{n}_{s}.json"))
        d = r["der"]
        found = len(r["speakers"])
        right += found == n
        parts = [d["missed"], d["false_alarm"], d["confusion"], d["total"]]
        pooled = [a + b for a, b in zip(pooled, parts)]
        print(f"  {n} speakers seed {s}: found {found}, DER {100 * d['der']:.2f} % "
              f"(miss {100 * d['missed'] / d['total']:.2f}, fa {100 * d['false_alarm'] / d['total']:.2f}, "
              f"conf {100 * d['confusion'] / d['total']:.2f})")
    grand = [a + b for a, b in zip(grand, pooled)]
    der = 100 * sum(pooled[:3]) / pooled[3]
    row.append(f"{der:.1f} %")
    print(f"== {n} speakers: pooled DER {der:.2f} % (miss {100 * pooled[0] / pooled[3]:.2f}, "
          f"fa {100 * pooled[1] / pooled[3]:.2f}, conf {100 * pooled[2] / pooled[3]:.2f}), "
          f"count right {right}/{seeds}")
allder = 100 * sum(grand[:3]) / grand[3]
print(f"== all: pooled DER {allder:.2f} %")
print("| " + " | ".join([data, "given" if given == "1" else "estimated"] + row + [f"{allder:.1f} %"]) + " |")
EOF
