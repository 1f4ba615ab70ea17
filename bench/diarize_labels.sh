#!/usr/bin/env bash
# Labels of diarized conversations through the open-set verdicts: the share of the
# speech time labelled with the right enrolled speaker, or unknown_k where the
# speaker is not enrolled.
#
#   bench/diarize_labels.sh --data ../shared/datasets/dsp34 [--seeds 5]
#                           [--speakers "2 3 4"] [--enrolled 24] [--given]
#                           [--verdict-threshold LLR] [--bin PATH]
#
# Disjoint by construction (the open-world protocol's split, as in
# scripts/open_world_protocol.py): on a dsp34-like folder data set (SPK/SPK-WW-RR.wav)
# the model is trained (`train --models gmm-ubm --all`, with its open-set
# calibration) on words 00-13 of the first --enrolled speakers (sorted by id); the
# conversations are mixed (`mix --clips all`) from words 14-19 of every speaker, so
# they hold enrolled and never-enrolled voices, and no clip the model saw.
# `diarize --model` labels them. A 10 ms frame of reference speech counts right
# when the hypothesis there is the reference speaker's id (enrolled) or any
# unknown_k (not enrolled); missed speech counts wrong. Scratch in a temporary folder.
set -euo pipefail
shopt -s nullglob

DATA=""
SEEDS=5
SPEAKERS="2 3 4"
ENROLLED=24
GIVEN=0
VT=""
BIN="${BIN:-target/release/speaker-similarity}"
while [ $# -gt 0 ]; do
    case "$1" in
        --data) DATA="$2"; shift 2 ;;
        --seeds) SEEDS="$2"; shift 2 ;;
        --speakers) SPEAKERS="$2"; shift 2 ;;
        --enrolled) ENROLLED="$2"; shift 2 ;;
        --given) GIVEN=1; shift ;;
        --verdict-threshold) VT="$2"; shift 2 ;;
        --bin) BIN="$2"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$DATA" ] || { echo "give --data DIR (a dsp34-like folder data set)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --workspace --release" >&2; exit 2; }
DATA="$(cd "$DATA" && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/enrol" "$TMP/query"
i=0
for spk in $(ls "$DATA" | sort); do
    [ -d "$DATA/$spk" ] || continue
    i=$((i + 1))
    mkdir -p "$TMP/query/$spk"
    for f in "$DATA/$spk/$spk"-1[4-9]-*.wav; do ln -s "$f" "$TMP/query/$spk/"; done
    if [ "$i" -le "$ENROLLED" ]; then
        mkdir -p "$TMP/enrol/$spk"
        for f in "$DATA/$spk/$spk"-0[0-9]-*.wav "$DATA/$spk/$spk"-1[0-3]-*.wav; do
            ln -s "$f" "$TMP/enrol/$spk/"
        done
    fi
done
echo "training on words 00-13 of $ENROLLED speakers ..." >&2
"$BIN" train --data "$TMP/enrol" --out "$TMP/model" --models gmm-ubm --all >"$TMP/train.log"
ls "$TMP/enrol" >"$TMP/enrolled.txt"
for n in $SPEAKERS; do
    for seed in $(seq 0 $((SEEDS - 1))); do
        wav="$TMP/conv_${n}_${seed}.wav"
        "$BIN" mix "$wav" --data "$TMP/query" --clips all --speakers "$n" --seed "$seed" >/dev/null
        given_args=()
        [ "$GIVEN" = 1 ] && given_args=(--speakers "$n")
        [ -n "$VT" ] && given_args+=(--verdict-threshold "$VT")
        "$BIN" diarize "$wav" --model "$TMP/model" --truth "${wav%.wav}.rttm" --json \
            "${given_args[@]}" >"$TMP/res_${n}_${seed}.json"
        rm -f "$wav"
    done
done
python3 - "$TMP" "$SPEAKERS" "$SEEDS" <<'EOF'
import json, sys
tmp, speakers, seeds = sys.argv[1], [int(s) for s in sys.argv[2].split()], int(sys.argv[3])
enrolled = set(open(f"{tmp}/enrolled.txt").read().split())

def frames(turns):
    out = {}
    for s, e, lab in turns:
        for f in range(round(s * 100), round(e * 100)):
            out.setdefault(f, lab)
    return out

grand = [0, 0, 0, 0]  # right, total, enrolled right, enrolled total
for n in speakers:
    tot = [0, 0, 0, 0]
    for seed in range(seeds):
        ref = []
        for line in open(f"{tmp}/conv_{n}_{seed}.rttm"):
            p = line.split()
            ref.append((float(p[3]), float(p[3]) + float(p[4]), p[7]))
        r = json.load(open(f"{tmp}/res_{n}_{seed}.json"))
        hyp = frames([(t["start"], t["end"], t["label"]) for t in r["turns"]])
        right = total = er = et = 0
        for f, lab in frames(ref).items():
            h = hyp.get(f)
            ok = (h == lab) if lab in enrolled else (h is not None and h.startswith("unknown_"))
            right += ok
            total += 1
            if lab in enrolled:
                er += ok
                et += 1
        spk = sorted({x[2] for x in ref})
        named = ", ".join(f"{s['label']}" for s in r["speakers"])
        print(f"  {n} speakers seed {seed}: truth {', '.join(s + ('*' if s in enrolled else '') for s in spk)}"
              f" | found {named} | right {100 * right / max(total, 1):.1f} % | DER {100 * r['der']['der']:.1f} %")
        tot = [a + b for a, b in zip(tot, [right, total, er, et])]
    print(f"== {n} speakers: {100 * tot[0] / tot[1]:.1f} % of the speech time labelled right "
          f"(enrolled speakers' time {100 * tot[2] / max(tot[3], 1):.1f} %)")
    grand = [a + b for a, b in zip(grand, tot)]
print(f"== all: {100 * grand[0] / grand[1]:.1f} % labelled right (* = enrolled; enrolled speakers' "
      f"time {100 * grand[2] / max(grand[3], 1):.1f} %, unknown speakers' time "
      f"{100 * (grand[0] - grand[2]) / max(grand[1] - grand[3], 1):.1f} %)")
EOF
