#!/usr/bin/env bash
# demo.sh — the README's first command (until the pretrained embedded model lands):
# builds bone, creates a small random Llama with `bone init`, makes a synthetic
# pre-tokenized data set (arithmetic progressions of token ids, learnable), fine-tunes it
# with bone-col and with lora at comparable trainable-parameter counts for the same number
# of steps, and prints a table of parameters, losses and times. Outputs go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-40}
OUT=out/demo
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target bone >/dev/null
BONE="$BUILD/bone"
rm -rf "$OUT"
mkdir -p "$OUT"
"$BONE" init --config configs/tiny-llama.json --out "$OUT/base" --seed 1
# 288 sequences of 32 ids following a fixed random successor map (x[t+1] = next[x[t]]):
# a pattern the frozen random base does not know and an adapter can learn; the first 8
# labels of each sequence are masked (-100), as a prompt would be
awk 'BEGIN { srand(7); for (i = 0; i < 500; i++) nx[i] = int(rand()*500);
       for (n = 0; n < 288; n++) { v = int(rand()*500); ids = ""; lab = "";
       for (t = 0; t < 32; t++) { ids = ids (t ? "," : "") (v + 10); lab = lab (t ? "," : "") (t < 8 ? -100 : v + 10); v = nx[v] }
       f = (n < 256) ? "train" : "eval";
       print "{\"input_ids\":[" ids "],\"labels\":[" lab "]}" > ("'"$OUT"'/" f ".jsonl") } }'
printf "%-10s %12s %12s %12s %10s\n" method trainable train_loss eval_loss seconds
for spec in "bone-col --block 16" "lora --rank 8"; do
    set -- $spec
    m=$1; shift
    start=$(date +%s.%N)
    "$BONE" train --model "$OUT/base" --data "$OUT/train.jsonl" --eval-data "$OUT/eval.jsonl" --method "$m" "$@" \
        --out "$OUT/$m" --steps "$STEPS" --batch 8 --lr ${LR:-1e-2} --schedule cosine --warmup 4 --quiet
    end=$(date +%s.%N)
    params=$(grep -o '"trainable_params": [0-9]*' "$OUT/$m/run.json" | grep -o '[0-9]*$')
    last=$(tail -n 1 "$OUT/$m/metrics.jsonl")
    loss=$(echo "$last" | grep -o '"loss": [0-9.e+-]*' | grep -o '[0-9.e+-]*$')
    evl=$(echo "$last" | grep -o '"eval_loss": [0-9.e+-]*' | grep -o '[0-9.e+-]*$')
    printf "%-10s %12s %12.4f %12.4f %10.1f\n" "$m" "$params" "$loss" "$evl" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
done
"$BONE" score --model "$OUT/base" --data "$OUT/eval.jsonl" --adapter "$OUT/bone-col/adapter"
echo "runs in $OUT/ (metrics.jsonl, run.json, adapter/ in PEFT layout)"
