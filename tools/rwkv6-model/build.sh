#!/usr/bin/env bash
# build.sh — the recipe for bone's small RWKV-6 (models/rwkv6): a 4-layer, C=128, head size 32
# RWKV-6 (about 1.9M parameters, bf16) with the default model's 4096-token tokenizer, pretrained
# from scratch by bone's own full-training path on the GSM8K training split in the repository
# (questions and answers as raw text, MIT). It exists so that `DEMO_MODEL=rwkv6 make demo` runs
# the same bone-col vs lora comparison on RWKV-6 as on the default Llama.
# usage: tools/rwkv6-model/build.sh [STEPS]   (default 300)
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-300}
OUT=models/rwkv6
W=${BONE_WORK:-/tmp/bone-rwkv6-model}
GSM8K=${GSM8K:-data/gsm8k}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target bone >/dev/null
BONE=build/bone
rm -rf "$W"
mkdir -p "$W"
"$BONE" init --config tools/rwkv6-model/config.json --out "$W/init" --seed 1 --dtype bf16
cp models/default/tokenizer.json models/default/tokenizer_config.json "$W/init/"
head -n 200 "$GSM8K/test.jsonl" >"$W/heldout.jsonl"
"$BONE" train --model "$W/init" --data "$GSM8K/train.jsonl" --format gsm8k --template raw --max-len 256 \
    --eval-data "$W/heldout.jsonl" --method full --out "$W/run" --steps "$STEPS" --batch 8 --lr 3e-3 \
    --schedule cosine --warmup 30 --weight-decay 0.01 --max-grad-norm 1.0 --seed 1 --eval-every 50 \
    --save-every 50 --keep 2 ${BONE_RESUME:+--resume}
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$W/run/model/config.json" "$W/run/model/model.safetensors" "$W/run/model/tokenizer.json" \
   "$W/run/model/tokenizer_config.json" "$OUT/"
cp "$W/run/metrics.jsonl" "$OUT/pretrain-metrics.jsonl"
cp "$W/run/loss.svg" "$OUT/pretrain-loss.svg"
echo "wrote $OUT ($(du -sh "$OUT" | cut -f1))"
