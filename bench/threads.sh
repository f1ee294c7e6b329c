#!/usr/bin/env bash
# threads.sh — bone on a shared machine: wall time of generate, score and a short training run
# alone ("idle") and beside 1 and 2 busy processes (`yes >/dev/null`), with bone's thread
# policy ("new": passive waiting, threads from the affinity mask and cgroup quota, src/core/
# threads.c) and with the OpenMP runtime's own ("old": forced through the environment, which
# bone respects: GOMP_SPINCOUNT=300000 is libgomp's default spin, OMP_NUM_THREADS=the CPU
# count). Old and new alternate inside every round; medians over ROUNDS. Results: README.md.
#   bench/threads.sh [BUILD]    env ROUNDS (5), SCORE_N (50 GSM8K test examples), STEPS (3)
set -euo pipefail
cd "$(dirname "$0")/.."
BONE=${1:-build}/bone
ROUNDS=${ROUNDS:-5}
SCORE_N=${SCORE_N:-50}
STEPS=${STEPS:-3}
TMP=$(mktemp -d)
busy=()
stop_busy() { for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; busy=(); }
trap 'stop_busy; rm -rf "$TMP"' EXIT
head -n "$SCORE_N" data/gsm8k/test.jsonl >"$TMP/score.jsonl"
head -n 64 data/gsm8k/train.jsonl >"$TMP/train.jsonl"
NCPU=$(nproc)
OLD=(env GOMP_SPINCOUNT=300000 OMP_NUM_THREADS="$NCPU")
NEW=(env)

run() { # POLICY WORKLOAD → seconds
    local t0 t1 B
    if [ "$1" = old ]; then B=("${OLD[@]}" "$BONE"); else B=("${NEW[@]}" "$BONE"); fi
    t0=$(date +%s.%N)
    case $2 in
    generate) "${B[@]}" generate --model models/default --prompt "Natalia sold clips to 48 of her friends" \
        --max-new 30 >/dev/null ;;
    score) "${B[@]}" score --model models/default --data "$TMP/score.jsonl" --format gsm8k --template alpaca \
        --max-len 384 >/dev/null ;;
    train) rm -rf "$TMP/run" && "${B[@]}" train --model models/default --data "$TMP/train.jsonl" --format gsm8k \
        --template alpaca --max-len 384 --method bone-col --block 16 --steps "$STEPS" --batch 4 \
        --out "$TMP/run" --quiet 2>/dev/null ;;
    esac
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}

echo "bench/threads.sh: $("$BONE" --version | sed -n 2p | sed 's/^compute: //')"
echo "  (old = ${OLD[*]:1}; new = bone's defaults); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
    for nbusy in 0 1 2; do
        for ((k = 0; k < nbusy; k++)); do yes >/dev/null & busy+=($!); done
        sleep 0.3
        for w in generate score train; do
            # alternate which policy goes first, round by round
            if ((round % 2)); then order="old new"; else order="new old"; fi
            for pol in $order; do
                t=$(run "$pol" "$w")
                echo "$w $nbusy $pol $t" >>"$TMP/times"
            done
        done
        stop_busy
    done
    echo "  round $round done"
done
echo "  load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "\n%-9s %-6s %9s %9s %8s   %s\n" workload busy old_s new_s old/new "new / new-idle"
for w in generate score train; do
    for nbusy in 0 1 2; do
        med() { awk -v w="$w" -v b="$2" -v p="$1" '$1 == w && $2 == b && $3 == p { print $4 }' "$TMP/times" |
            sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
        o=$(med old "$nbusy")
        n=$(med new "$nbusy")
        n0=$(med new 0)
        printf "%-9s %-6s %9.3f %9.3f %8.2f   %.2f\n" "$w" "$nbusy" "$o" "$n" "$(echo "$o / $n" | bc -l)" \
            "$(echo "$n / $n0" | bc -l)"
    done
done
