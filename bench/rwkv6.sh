#!/usr/bin/env bash
# rwkv6.sh — issue 16's RWKV-6 performance table: `bone bench` against the eager PyTorch RWKV-6
# peer (bench/peers/torch_rwkv6_peer.py: the same chunked WKV6, adapters on the same 8 block
# linears, the same token batches) for lora and bone-col, alternating in every round, with
# medians over rounds and per-round ratios (bench/summarize_rwkv6.py).
# usage: bench/rwkv6.sh [BUILD_DIR]
#   env: CONFIG (default bench/configs/rwkv6-c512.json: C=512, 8 layers, head size 64, vocab
#        65536), DTYPE (bf16: the stored weights, as the issue's bone-col vs lora table),
#        METHODS (lora:32,bone-col:64: the equal-parameter pair), STEPS (3), WARMUP (1),
#        ROUNDS (3), THREADS (2), KEEP=DIR to keep the work dir.
# Both sides: THREADS threads, fp32 compute, seq 256 × batch 4. The peer runs "tuned" as
# bench.sh's: LD_PRELOAD=tcmalloc, and OPENBLAS_CORETYPE=SkylakeX only on a CPU with AVX-512
# (elsewhere OpenBLAS's own choice, as bone's). Writes nothing outside a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BONE="$BUILD/bone"
PY=/usr/bin/python3
CONFIG=${CONFIG:-bench/configs/rwkv6-c512.json}
DTYPE=${DTYPE:-bf16}
METHODS=${METHODS:-lora:32,bone-col:64}
STEPS=${STEPS:-3}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
W=${KEEP:-$(mktemp -d /tmp/bone-rwkv6-bench.XXXXXX)}
mkdir -p "$W"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
V=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$CONFIG")
NB=$((4 * (STEPS + WARMUP)))
awk -v n="$NB" -v V="$V" 'BEGIN { srand(3); for (i = 0; i < n; i++) { s = ""; for (t = 0; t < 256; t++) s = s (t ? "," : "") int(rand()*V);
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
"$BONE" init --config "$CONFIG" --out "$W/model" --seed 1 --dtype "$DTYPE" >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F' '%H:%M' UTC')"
echo "model: $CONFIG ($DTYPE weights), methods $METHODS, seq 256 x batch 4, $THREADS threads, $STEPS timed steps after $WARMUP"
echo "PyTorch $($PY -c 'import torch; print(torch.__version__)'), eager, fp32"
TUNE=()
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
if [ -e "$TC" ]; then TUNE+=(LD_PRELOAD="$TC"); else echo "note: $TC missing (scripts/install-deps.sh installs it); the peer runs without tcmalloc"; fi
grep -qw avx512f /proc/cpuinfo && TUNE+=(OPENBLAS_CORETYPE=SkylakeX)
: >"$W/peer.jsonl"
for r in $(seq "$ROUNDS"); do
    echo "== round $r/$ROUNDS ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
    # the order alternates by round, so a load change hits both sides alike
    for side in $( [ $((r % 2)) = 1 ] && echo "bone peer" || echo "peer bone"); do
        if [ "$side" = bone ]; then
            OMP_NUM_THREADS=$THREADS "$BONE" bench --model "$W/model" --methods "$METHODS" --data "$W/data.jsonl" --batch 4 \
                --seq 256 --steps "$STEPS" --warmup "$WARMUP" --rounds 1 --compute fp32 --json >"$W/ours.$r.txt"
        else
            for m in ${METHODS//,/ }; do
                env "${TUNE[@]}" OMP_NUM_THREADS="$THREADS" "$PY" bench/peers/torch_rwkv6_peer.py --model "$W/model" \
                    --data "$W/data.jsonl" --method "$m" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" |
                    sed "s/^{/{\"round\": $r, /" >>"$W/peer.jsonl"
            done
        fi
    done
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" bench/summarize_rwkv6.py "$W" "$ROUNDS"
