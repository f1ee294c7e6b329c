#!/usr/bin/env bash
# memory.sh — peak RSS of bone-col against lora at two depths, measured side by side.
# The claim under test (issue "Adapters", BONE.md "Cost"): Bone's extra memory over LoRA is
# one scratch weight plus one tile, whatever the depth — so (bone − lora) must not grow
# from 2 to 8 layers. Shapes are the "small" config (dim 512, 8 heads, ffn 1376, vocab 32000,
# untied), seq 256, batch 4, all seven projections, bone-col --block 16 vs lora --rank 8.
# usage: bench/memory.sh [BUILD_DIR]   (prints a table; writes nothing outside a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BONE="$BUILD/bone"
STEPS=${STEPS:-3}
W=$(mktemp -d /tmp/bone-mem.XXXXXX)
trap 'rm -rf "$W"' EXIT
awk 'BEGIN { srand(3); for (n = 0; n < 16; n++) { s = ""; for (t = 0; t < 256; t++) s = s (t ? "," : "") int(rand()*32000);
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
printf "%-7s %-10s %14s %10s\n" layers method peak_rss_mib step_s
for L in 2 8; do
    sed -e "s/\"num_hidden_layers\": [0-9]*/\"num_hidden_layers\": $L/" bench/configs/small.json >"$W/cfg$L.json"
    "$BONE" init --config "$W/cfg$L.json" --out "$W/m$L" --seed 1 >/dev/null
    for round in 1 2; do  # alternate the methods; report the second round
        for spec in "bone-col --block 16" "lora --rank 8"; do
            set -- $spec
            m=$1
            shift
            "$BONE" train --model "$W/m$L" --data "$W/data.jsonl" --method "$m" "$@" --out "$W/r$L$m" \
                --steps "$STEPS" --batch 4 --no-shuffle --quiet
            last=$(tail -n 1 "$W/r$L$m/metrics.jsonl")
            rss=$(echo "$last" | grep -o '"peak_rss_mib": [0-9.]*' | grep -o '[0-9.]*$')
            el=$(echo "$last" | grep -o '"elapsed_s": [0-9.]*' | grep -o '[0-9.]*$')
            [ $round -eq 2 ] && printf "%-7s %-10s %14s %10.2f\n" "$L" "$m" "$rss" "$(awk -v e="$el" -v s="$STEPS" 'BEGIN{print e/s}')"
            eval "rss_${L}_${m//-/_}=$rss"
        done
    done
done
awk -v b2="$rss_2_bone_col" -v l2="$rss_2_lora" -v b8="$rss_8_bone_col" -v l8="$rss_8_lora" 'BEGIN {
    printf "bone-col − lora: %.1f MiB at 2 layers, %.1f MiB at 8 layers (growth %.1f MiB)\n", b2-l2, b8-l8, (b8-l8)-(b2-l2) }'
