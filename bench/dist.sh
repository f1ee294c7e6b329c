#!/usr/bin/env bash
# dist.sh — data parallel on one machine (issue 19): `bone train` on the "small" config as
# np=2 ranks × 1 thread against np=1 × 2 threads, for lora, bone-col and full (ZeRO-1), the two
# interleaved round by round. Prints per run tokens/s (from metrics.jsonl, the first step left
# out as warm-up), the ratio np=2/np=1 per round and its median, and the bytes rank 0 handed to
# the collectives per step (ring model: 2·(N-1)/N of the gradient buffer, plus the ZeRO-1
# all-gather of the values for full, plus a few hundred bytes of status). Not a test: timings
# on a shared machine swing (bench/README.md).
# usage: bench/dist.sh [BUILD]   env ROUNDS (2), STEPS (6), BATCH (4), LEN (128), METHODS
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BONE=$PWD/$BUILD/bone
ROUNDS=${ROUNDS:-2}
STEPS=${STEPS:-6}
BATCH=${BATCH:-4}
LEN=${LEN:-128}
METHODS=${METHODS:-lora bone-col full}
W=$(mktemp -d /tmp/bone-dist-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$BONE" init --config bench/configs/small.json --out "$W/small" --seed 1 >/dev/null
awk -v L="$LEN" 'BEGIN { srand(3); for (n = 0; n < 64; n++) { s = ""; for (t = 0; t < L; t++)
     s = s (t ? "," : "") (3 + int(rand()*31000)); print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
tps() { # run dir: tokens/s over steps 2..last
    /usr/bin/python3 - "$1/metrics.jsonl" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(f"{(r[-1]['tokens'] - r[0]['tokens']) / (r[-1]['elapsed_s'] - r[0]['elapsed_s']):.1f}")
PY
}
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $(mpirun --version | head -1)"
for m in $METHODS; do
    extra=()
    case $m in lora) extra=(--rank 8) ;; bone-col) extra=(--block 16) ;; esac
    ratios=()
    for r in $(seq "$ROUNDS"); do
        A=(train --model "$W/small" --data "$W/data.jsonl" --method "$m" "${extra[@]}" --steps "$STEPS" --batch "$BATCH"
           --lr 1e-4 --seed 1)
        rm -rf "$W/one" "$W/two"
        OMP_NUM_THREADS=2 "$BONE" "${A[@]}" --out "$W/one" --quiet
        OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 "$BONE" "${A[@]}" --out "$W/two" 2>"$W/two.log" >/dev/null
        one=$(tps "$W/one") two=$(tps "$W/two")
        bytes=$(grep -o '[0-9]* per step' "$W/two.log" | cut -d' ' -f1)
        ratio=$(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.3f", a / b }')
        ratios+=("$ratio")
        printf '%-9s round %d: np=1x2 threads %8s tok/s, np=2x1 thread %8s tok/s, ratio %s, rank 0 sent %s bytes/step\n' \
            "$m" "$r" "$one" "$two" "$ratio" "$bytes"
    done
    printf '%-9s median ratio np=2x1 / np=1x2: %s\n' "$m" "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')"
done
