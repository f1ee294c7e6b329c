#!/usr/bin/env bash
# test_bench.sh — `bone bench` runs on a tiny model and prints every row and ratio (no timing checks).
# usage: test_bench.sh BONE CONFIG
set -euo pipefail
BONE=$1
W=$(mktemp -d /tmp/bone-bench-smoke.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BONE" init --config "$2" --out "$W/m" --seed 1 >/dev/null
out=$("$BONE" bench --model "$W/m" --methods lora:4,bone-col:8,full --batch 2 --seq 16 --steps 2 --warmup 1 --rounds 1 --json)
echo "$out"
for row in "lora:4 " "bone-col:8 " "full " "gemm-ceiling "; do
    echo "$out" | grep -q "^$row" || { echo "FAIL: no row for $row"; exit 1; }
done
echo "$out" | grep -q "OpenBLAS kernel" || { echo "FAIL: the kernel in use is not reported"; exit 1; }
[ "$(echo "$out" | grep -c '^{"summary"')" -eq 3 ] || { echo "FAIL: expected 3 summary lines"; exit 1; }
# the three methods start from the same weights and batches: identical first losses
l=$(echo "$out" | grep '^{"summary"' | grep -o '"loss0": [0-9.e+-]*' | sort -u | wc -l)
[ "$l" -eq 1 ] || { echo "FAIL: first-step losses differ between methods"; exit 1; }
echo "bench smoke passed"
