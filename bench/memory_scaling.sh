#!/usr/bin/env bash
# Peak memory and throughput of `evaluate` and `train --all --out` as the data set
# grows: the synthetic corpus at 100, 200, 400 and 650 speakers x 20 clips (2 000 to
# 13 000 clips), built in a temporary folder. Prints one row per command and size:
# speakers, clips, seconds, clips/s, peak RSS (MB, from /usr/bin/time -v) and the
# ratio of the peak to the previous size's (the anchor: bounded memory means a ratio
# near 1 per doubling). With BEFORE_BIN=/path/to/an/older/speaker-similarity the same
# runs are repeated with that binary and its peak and the after/before ratio are
# printed beside.
#
#   bench/memory_scaling.sh                      # all sizes, models `main`
#   SIZES="100 200" bench/memory_scaling.sh      # fewer sizes
#   COMMANDS=train MODELS=gmm-ubm bench/memory_scaling.sh
#   SIZES="100x20 100x40 100x80" bench/memory_scaling.sh   # more clips per speaker
#
# A size is SPEAKERS (with CLIPS clips each) or SPEAKERSxCLIPS.
#
# Environment: BIN (default target/release/speaker-similarity), SIZES, CLIPS (20),
# MODELS (main), COMMANDS ("evaluate train"), KEEP (a folder to keep and reuse the
# corpora in; default a temporary folder removed at the end), BEFORE_BIN.
set -euo pipefail

BIN=${BIN:-target/release/speaker-similarity}
SIZES=${SIZES:-100 200 400 650}
CLIPS=${CLIPS:-20}
MODELS=${MODELS:-main}
COMMANDS=${COMMANDS:-evaluate train}
BEFORE_BIN=${BEFORE_BIN:-}
TIME=/usr/bin/time

[[ -x $BIN ]] || { echo "no binary at $BIN (cargo build --release -p speaker-similarity)" >&2; exit 2; }
[[ -x $TIME ]] || { echo "$TIME (GNU time) is needed for peak RSS (apt-get install time)" >&2; exit 2; }
if [[ -n $BEFORE_BIN && ! -x $BEFORE_BIN ]]; then
    echo "BEFORE_BIN=$BEFORE_BIN is not executable" >&2; exit 2
fi

if [[ -n ${KEEP:-} ]]; then
    WORK=$KEEP
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/memory-scaling.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi

# run BIN CMD SIZE -> "seconds peak_mb" on stdout; the command's output in $WORK.
run() {
    local bin=$1 cmd=$2 n=$3 tag=$4
    local data=$WORK/s$n log=$WORK/$tag-$cmd-$n
    [[ $n == *x$CLIPS ]] && data=$WORK/s${n%x*}
    local args=(evaluate --data "$data" --models "$MODELS")
    if [[ $cmd == train ]]; then
        rm -rf "$WORK/models-$tag-$n"
        args=(train --all --data "$data" --models "$MODELS" --out "$WORK/models-$tag-$n")
    fi
    if ! $TIME -v "$bin" "${args[@]}" >"$log.out" 2>"$log.err"; then
        echo "failed: $bin ${args[*]} (see $log.err)" >&2
        tail -5 "$log.err" >&2
        exit 1
    fi
    rm -rf "$WORK/models-$tag-$n"
    local wall kb
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.err")
    kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.err")
    # h:mm:ss or m:ss.ss -> seconds
    echo "$wall" | awk -F: -v kb="$kb" '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f %.1f\n", s, kb / 1024 }'
}

# Every size as SPEAKERSxCLIPS.
norm=()
for n in $SIZES; do
    [[ $n == *x* ]] || n=${n}x$CLIPS
    norm+=("$n")
done
for n in "${norm[@]}"; do
    spk=${n%x*} per=${n#*x}
    dir=$WORK/s$n
    [[ $per == "$CLIPS" ]] && dir=$WORK/s$spk
    if [[ ! -f $dir/speakers.tsv ]]; then
        echo "synthesising $spk speakers x $per clips ..." >&2
        "$BIN" synth "$dir" --speakers "$spk" --clips "$per" --overwrite >/dev/null
    fi
done

header="command   speakers  clips  seconds  clips/s  peak RSS MB  ratio to previous"
[[ -n $BEFORE_BIN ]] && header="$header  before MB  after/before"
echo "models: $MODELS; $(nproc) cores; binary $BIN"
echo "$header"
for cmd in $COMMANDS; do
    prev=""
    for n in "${norm[@]}"; do
        spk=${n%x*}
        clips=$((spk * ${n#*x}))
        read -r secs peak < <(run "$BIN" "$cmd" "$n" after)
        ratio="-"
        [[ -n $prev ]] && ratio=$(awk -v a="$peak" -v b="$prev" 'BEGIN { printf "%.2f", a / b }')
        line=$(awk -v c="$cmd" -v n="$spk" -v k="$clips" -v s="$secs" -v p="$peak" -v r="$ratio" \
            'BEGIN { printf "%-9s %8d %6d %8.1f %8.1f %12.1f  %s", c, n, k, s, k / s, p, r }')
        if [[ -n $BEFORE_BIN ]]; then
            read -r _ bpeak < <(run "$BEFORE_BIN" "$cmd" "$n" before)
            line="$line$(awk -v p="$peak" -v b="$bpeak" 'BEGIN { printf "  %9.1f  %.2f", b, p / b }')"
        fi
        echo "$line"
        prev=$peak
    done
done
