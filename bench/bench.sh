#!/usr/bin/env bash
# bench.sh — the performance table of issue 6: `bone bench` on the "small" config (fp32 and
# bf16 frozen weights) and the PyTorch peer (bench/peers/torch_peer.py) on the same shapes,
# formulas and token batches, as installed and tuned; prints ratios measured in this run.
# usage: bench/bench.sh [BUILD_DIR]
#   env: LAYERS (default: the config's 8), STEPS (4), WARMUP (1), ROUNDS (3), PEER_STEPS (3),
#        SKIP_INSTALLED=1 to skip the untuned PyTorch run, KEEP=DIR to keep the work dir,
#        COMPUTE=LIST passed to `bone bench --compute` (default auto; e.g. fp32,bf16 on a CPU with
#        AMX-BF16 / AVX512-BF16), PEER_BF16=1 adds the tuned peer under bf16 autocast (tag
#        tuned-bf16, in peer.jsonl; summarize.py's tables keep to the fp32 peer).
# Writes nothing outside a temp dir. Ratios, not absolute times, are the result: the machine
# is shared; rounds interleave every runner, and the summary (bench/summarize.py) takes
# medians over rounds and per-round ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BONE="$BUILD/bone"
PY=/usr/bin/python3
STEPS=${STEPS:-4}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
PEER_STEPS=${PEER_STEPS:-3}
W=${KEEP:-$(mktemp -d /tmp/bone-bench.XXXXXX)}
mkdir -p "$W"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
CFG=bench/configs/small.json
if [ -n "${LAYERS:-}" ]; then
    sed -e "s/\"num_hidden_layers\": [0-9]*/\"num_hidden_layers\": $LAYERS/" "$CFG" >"$W/config.json"
    CFG="$W/config.json"
fi
NB=$((4 * (STEPS + WARMUP)))
awk -v n="$NB" 'BEGIN { srand(3); for (i = 0; i < n; i++) { s = ""; for (t = 0; t < 256; t++) s = s (t ? "," : "") int(rand()*32000);
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
"$BONE" init --config "$CFG" --out "$W/f32" --seed 1 >/dev/null
"$BONE" init --config "$CFG" --out "$W/bf16" --seed 1 --dtype bf16 >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F' '%H:%M' UTC')"
COMMON=(--data "$W/data.jsonl" --batch 4 --seq 256 --steps "$STEPS" --warmup "$WARMUP" --rounds 1 --json
        --compute "${COMPUTE:-auto}")
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] || { echo "note: $TC missing (scripts/install-deps.sh installs it); tuned peer runs without tcmalloc"; TC=""; }
peer() { # round tag method env...   (a tag ending in -bf16 runs under bf16 autocast)
    local r=$1 tag=$2 m=$3 ac=off
    shift 3
    case $tag in *-bf16) ac=bf16 ;; esac
    env "$@" OMP_NUM_THREADS=2 "$PY" bench/peers/torch_peer.py --model "$W/f32" --data "$W/data.jsonl" --method "$m" \
        --steps "$PEER_STEPS" --warmup 1 --threads 2 --autocast "$ac" | sed "s/^{/{\"round\": $r, \"tag\": \"$tag\", /" >>"$W/peer.jsonl"
}
: >"$W/peer.jsonl"
echo "PyTorch $($PY -c 'import torch; print(torch.__version__)'), eager, fp32, 2 threads"
# Each round runs ours (fp32: every method; bf16: lora, bone-col) and the tuned peer back to
# back, so the load of the moment hits all of them alike (the untuned peer: round 1 only).
for r in $(seq "$ROUNDS"); do
    echo "== round $r/$ROUNDS ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BONE" bench --model "$W/f32" --methods lora:8,bone-col:16,full,lora:8/rc,bone-col:16/rc,full/rc "${COMMON[@]}" >"$W/ours-f32.$r.txt"
    grep -v '^{' "$W/ours-f32.$r.txt" | sed -n '/^method/,/^$/p'
    "$BONE" bench --model "$W/bf16" --methods lora:8,bone-col:16 "${COMMON[@]}" >"$W/ours-bf16.$r.txt"
    for m in lora:8 bone-col:16 full; do
        peer "$r" tuned "$m" OPENBLAS_CORETYPE=SkylakeX ${TC:+LD_PRELOAD=$TC}
        if [ -n "${PEER_BF16:-}" ]; then peer "$r" tuned-bf16 "$m" OPENBLAS_CORETYPE=SkylakeX ${TC:+LD_PRELOAD=$TC}; fi
        if [ -z "${SKIP_INSTALLED:-}" ] && [ "$r" = 1 ]; then peer "$r" installed "$m" -u OPENBLAS_CORETYPE -u LD_PRELOAD; fi
    done
done
head -1 "$W/ours-f32.1.txt"
"$PY" bench/summarize.py "$W" "$ROUNDS"
