#!/usr/bin/env bash
# test_bench.sh — `bone bench` runs on a tiny model and prints every row and ratio (no timing
# checks); the three methods start from the same weights and batches, so their first losses are
# the same finite number. usage: test_bench.sh BONE CONFIG
set -u
BONE=$1
. "$(dirname "$0")/lib.sh"
t_begin bench-smoke
run_ok "init" "$BONE" init --config "$2" --out "$W/m" --seed 1 || t_fatal
run_ok "bench" "$BONE" bench --model "$W/m" --methods lora:4,bone-col:8,full --batch 2 --seq 16 --steps 2 --warmup 1 \
    --rounds 1 --json || t_fatal
out=$(cat "$W/out")
echo "$out"
for row in "lora:4 " "bone-col:8 " "full " "gemm-ceiling "; do
    echo "$out" | grep -q "^$row" && ok "row for $row" || bad "no row for $row"
done
echo "$out" | grep -q "OpenBLAS kernel" && ok "the kernel in use is reported" || bad "the kernel in use is not reported"
n=$(echo "$out" | grep -c '^{"summary"')
[ "$n" -eq 3 ] && ok "3 summary lines" || bad "expected 3 summary lines, got $n"
# each loss0 must be a finite number (a NaN or an empty field is not "the same loss")
nfin=0
for l in $(echo "$out" | grep '^{"summary"' | sed -n 's/.*"loss0": *\([^,}]*\).*/\1/p'); do
    require_number "first-step loss" "$l" && nfin=$((nfin + 1))
done
require_at_least "finite first-step losses" "$nfin" 3 && ok "3 finite first-step losses"
u=$(echo "$out" | grep '^{"summary"' | sed -n 's/.*"loss0": *\([^,}]*\).*/\1/p' | sort -u | wc -l)
[ "$u" -eq 1 ] && ok "identical first-step losses across methods" || bad "first-step losses differ between methods"
t_end
