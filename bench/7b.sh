#!/usr/bin/env bash
# 7b.sh — a Llama-2-7B-shaped model (configs/llama2-7b.json, random bf16 weights, 13.5 GB)
# fine-tuned on one machine: lora r=8 and bone-col b=64 on all seven linears of every layer, seq
# 512 × batch 1, --recompute, frozen weights mmapped (never copied). Not part of CI: a step is
# ~21 TFLOP (minutes on a CPU without AMX), and the model needs 13.5 GB of disk.
# Per method it reports the memory plan (`bone train --dry-run`, total estimated peak), the
# measured peak RSS (/usr/bin/time -v "Maximum resident set size", and bone's own peak_rss_mib)
# and their ratio, s/step (metrics.jsonl elapsed_s of the last step / steps; the first step
# includes faulting the mapped weights in) and the achieved TFLOP/s at
#   FLOP/step = T·(6·P_lin + 4·V·H) + 16·L·T²·H
# (linears: forward, recomputed forward and the input gradient, 2·P_lin·T each — frozen weights
# get no weight gradient; lm_head forward + input gradient; attention QKᵀ and AV dense,
# forward + recompute + backward at twice the forward); adapter FLOPs are not counted.
# The model is made with `bone init` if DIR has none (streamed: peak RSS ≈ one fp32 tensor).
# usage: bench/7b.sh [BUILD_DIR]   env: DIR (model + runs; default /tmp/bone-7b — keep it outside
#        the repository), STEPS (2), METHODS ("lora bone-col"), PARALLEL (0; 1 = both methods at
#        once, one thread each: the same peak RSS per process, the step times of a shared machine),
#        LIMIT_S (unset; else each training run is killed after this many seconds and reported with
#        the peak RSS it had reached and "unfinished" in place of its step time)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BONE="$PWD/$BUILD/bone"
DIR=${DIR:-/tmp/bone-7b}
STEPS=${STEPS:-2}
METHODS=${METHODS:-"lora bone-col"}
PARALLEL=${PARALLEL:-0}
CFG=configs/llama2-7b.json
mkdir -p "$DIR"
if [ ! -f "$DIR/model/config.json" ]; then
    echo "init: $DIR/model (13.5 GB, bf16)"
    /usr/bin/time -v "$BONE" init --config "$CFG" --out "$DIR/model" --dtype bf16 --seed 1 2>"$DIR/init.time"
    grep -E "Elapsed|Maximum resident" "$DIR/init.time"
fi
awk 'BEGIN { srand(7); for (n = 0; n < 8; n++) { s = ""; for (t = 0; t < 512; t++) s = s (t ? "," : "") (3 + int(rand()*31990));
             print "{\"input_ids\":[" s "]}" } }' >"$DIR/data.jsonl"
args() { # method-specific flags
    case $1 in lora) echo "--rank 8" ;; bone-col) echo "--block 64" ;; *) echo "" ;; esac
}
run() { # method threads
    local m=$1
    "$BONE" train --model "$DIR/model" --data "$DIR/data.jsonl" --method "$m" $(args "$m") --out "$DIR/run-$m" \
        --steps 1 --batch 1 --recompute --no-shuffle --overwrite --dry-run >"$DIR/plan-$m.txt" 2>&1
    local lim=()
    [ -n "${LIMIT_S:-}" ] && lim=(timeout -s KILL "$LIMIT_S")
    rm -f "$DIR/hwm-$m.txt"
    OMP_NUM_THREADS=$2 "${lim[@]}" /usr/bin/time -v "$BONE" train --model "$DIR/model" --data "$DIR/data.jsonl" --method "$m" \
        $(args "$m") --out "$DIR/run-$m" --steps "$STEPS" --batch 1 --recompute --no-shuffle --overwrite --quiet \
        2>"$DIR/time-$m.txt" >/dev/null &
    local tp=$! c t0=$SECONDS
    # the high-water mark so far (VmHWM, KiB), kept in a file: a run stopped early still has it
    while kill -0 $tp 2>/dev/null; do
        c=$(pgrep -f -n "bone train --model $DIR/model --data $DIR/data.jsonl --method $m " || true)
        [ -n "$c" ] && awk -v t=$((SECONDS - t0)) '/VmHWM/ { print $2, t }' /proc/$c/status >"$DIR/hwm-$m.tmp" 2>/dev/null \
            && [ -s "$DIR/hwm-$m.tmp" ] && mv "$DIR/hwm-$m.tmp" "$DIR/hwm-$m.txt" || true
        sleep 5
    done
    wait $tp || echo "$m: training stopped (exit $?): LIMIT_S=${LIMIT_S:-} reached or an error (see $DIR/time-$m.txt)"
}
if [ "$PARALLEL" = 1 ]; then
    pids=()
    for m in $METHODS; do run "$m" 1 & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
else
    for m in $METHODS; do run "$m" "${OMP_NUM_THREADS:-2}"; done
fi
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
printf "%-9s %6s %9s %9s %12s %12s %12s %8s\n" method steps s/step TFLOP/s plan_MiB rss_MiB bone_rss_MiB rss/plan
for m in $METHODS; do
    plan=$(grep "total (estimated peak)" "$DIR/plan-$m.txt" | grep -o '[0-9.]* MiB' | grep -o '[0-9.]*')
    rss=$(awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }' "$DIR/time-$m.txt" 2>/dev/null || true)
    if [ -s "$DIR/run-$m/metrics.jsonl" ]; then
        last=$(tail -n 1 "$DIR/run-$m/metrics.jsonl")
        el=$(echo "$last" | grep -o '"elapsed_s": [0-9.]*' | grep -o '[0-9.]*$')
        brss=$(echo "$last" | grep -o '"peak_rss_mib": [0-9.]*' | grep -o '[0-9.]*$')
        n=$(echo "$last" | grep -o '"step": [0-9]*' | grep -o '[0-9]*$')
    else # stopped before the first step ended: the high-water mark it had reached
        el=0 n=0 brss=-1
        [ -z "$rss" ] && rss=$(awk '{ printf "%.1f", $1 / 1024 }' "$DIR/hwm-$m.txt" 2>/dev/null || echo -1)
        echo "$m: no step finished; peak RSS $rss MiB after $(awk '{ print $2 }' "$DIR/hwm-$m.txt" 2>/dev/null) s"
    fi
    awk -v m="$m" -v n="$n" -v el="$el" -v plan="$plan" -v rss="$rss" -v brss="$brss" 'BEGIN {
        T = 512; H = 4096; F = 11008; V = 32000; L = 32
        P = L * (4 * H * H + 3 * H * F)
        flop = T * (6 * P + 4 * V * H) + 16 * L * T * T * H
        if (n > 0) printf "%-9s %6d %9.1f %9.3f %12.1f %12.1f %12.1f %8.3f\n", m, n, el / n, flop * n / el / 1e12, plan, rss, brss, rss / plan
        else printf "%-9s %6d %9s %9s %12.1f %12.1f %12s %8.3f\n", m, 0, "unfinished", "-", plan, rss, "-", rss / plan }'
done
echo "FLOP/step = $(awk 'BEGIN { T=512; H=4096; F=11008; V=32000; L=32; P=L*(4*H*H+3*H*F); printf "%.2f", (T*(6*P+4*V*H)+16*L*T*T*H)/1e12 }') TFLOP; plans in $DIR/plan-*.txt"
