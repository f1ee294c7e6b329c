#!/usr/bin/env bash
# build.sh — the exact recipe that rebuilds bone's embedded default model (models/default):
# a 5.5M-parameter Llama (GQA, tied embeddings, bf16) with its own 4096-token byte-level BPE
# tokenizer, pretrained from scratch by bone's own full-training path on public-domain text
# (the King James Bible, Debian's bible-kjv-text) and the questions of GSM8K's train split
# (MIT). Needs Debian's bible-kjv, bible-kjv-text and python3-regex (installed if missing).
# usage: tools/default-model/build.sh [STEPS]   (default 1000; ~30 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-1000}
OUT=models/default
W=${BONE_WORK:-/tmp/bone-default-model}
GSM8K=${GSM8K:-data/gsm8k/train.jsonl}
missing=()
for p in bible-kjv bible-kjv-text python3-regex; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target bone >/dev/null
BONE=build/bone
rm -rf "$W"
mkdir -p "$W/init"
bible "Gen1:1-Rev22:21" >"$W/kjv.txt"
/usr/bin/python3 tools/default-model/build_corpus.py "$W/kjv.txt" "$GSM8K" "$W/corpus.txt" "$W/train.jsonl" "$W/heldout.jsonl"
/usr/bin/python3 tools/default-model/train_tokenizer.py "$W/corpus.txt" "$W/init" 4096
"$BONE" init --config tools/default-model/config.json --out "$W/init" --seed 1 --dtype bf16
"$BONE" train --model "$W/init" --data "$W/train.jsonl" --format text --eval-data "$W/heldout.jsonl" --method full \
    --out "$W/run" --steps "$STEPS" --batch 8 --max-len 256 --lr 3e-3 --schedule cosine --warmup 50 \
    --weight-decay 0.01 --max-grad-norm 1.0 --seed 1 --eval-every 100 --save-every 100 --keep 2 ${BONE_RESUME:+--resume}
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$W/run/model/config.json" "$W/run/model/model.safetensors" "$W/run/model/tokenizer.json" \
   "$W/run/model/tokenizer_config.json" "$OUT/"
cp "$W/run/metrics.jsonl" "$OUT/pretrain-metrics.jsonl"
cp "$W/run/loss.svg" "$OUT/pretrain-loss.svg"
echo "wrote $OUT ($(du -sh "$OUT" | cut -f1))"
