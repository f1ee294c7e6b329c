#!/usr/bin/env bash
# demo.sh — the README's first command. With nothing downloaded, it fine-tunes the embedded
# default model (models/default: a 5.5M-parameter Llama that bone pretrained itself, see
# tools/default-model/) on GSM8K answers with bone-col and with lora at near-equal trainable
# parameters and equal steps, prints a table (trainable params, final train loss, held-out
# loss on GSM8K test, time, peak memory), writes the comparison plot, merges the Bone adapter
# and generates an answer for one test question. Everything goes to out/demo/.
#   DEMO_STEPS (default 200), DEMO_BATCH (8), DEMO_EVAL (100 test questions) scale it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${DEMO_STEPS:-200}
BATCH=${DEMO_BATCH:-8}
NEVAL=${DEMO_EVAL:-100}
MODEL=${DEMO_MODEL:-models/default}
GSM8K=${GSM8K:-data/gsm8k}   # a copy of GSM8K (MIT) ships in the repository
OUT=out/demo
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target bone >/dev/null
BONE="$BUILD/bone"
rm -rf "$OUT"
mkdir -p "$OUT"
head -n "$NEVAL" "$GSM8K/test.jsonl" >"$OUT/test-heldout.jsonl"
echo "bone demo: fine-tuning $MODEL (5.5M parameters, pretrained by bone) on GSM8K answers"
echo "          with the Alpaca prompt of the Bone/PiSSA experiments: $STEPS steps of $BATCH examples per method"
# near-equal trainable parameters on this model: bone-col b=16 → 233,472; lora r=8 → 224,256
printf "\n%-9s %10s %11s %13s %9s %9s\n" method trainable train_loss heldout_loss time_s peak_MiB
for spec in "bone-col --block 16" "lora --rank 8 --alpha 16"; do
    set -- $spec
    m=$1
    shift
    "$BONE" train --model "$MODEL" --data "$GSM8K/train.jsonl" --format gsm8k --template alpaca --max-len 256 \
        --eval-data "$OUT/test-heldout.jsonl" --eval-every $((STEPS / 2 > 0 ? STEPS / 2 : 1)) --method "$m" "$@" \
        --out "$OUT/$m" --steps "$STEPS" --batch "$BATCH" --lr 2e-3 --schedule cosine --warmup $((STEPS / 20)) \
        --seed 1 --quiet 2>"$OUT/$m.log" || { cat "$OUT/$m.log" >&2; exit 1; }
    awk -v m="$m" '
        { if (match($0, /"loss": [^,}]*/)) l[NR] = substr($0, RSTART + 8, RLENGTH - 8)
          if (match($0, /"eval_loss": [^,}]*/)) ev = substr($0, RSTART + 13, RLENGTH - 13)
          if (match($0, /"elapsed_s": [^,}]*/)) t = substr($0, RSTART + 13, RLENGTH - 13)
          if (match($0, /"peak_rss_mib": [^,}]*/)) r = substr($0, RSTART + 16, RLENGTH - 16) }
        END { s = 0; k = 0; for (i = NR; i > NR - 10 && i > 0; i--) { s += l[i]; k++ }  # mean of the last 10 steps
              printf "%-9s %10s %11.4f %13.4f %9.1f %9.0f\n", m, p, s / k, ev, t, r }
    ' p="$(grep -o '"trainable_params": [0-9]*' "$OUT/$m/run.json" | grep -o '[0-9]*$')" "$OUT/$m/metrics.jsonl"
done
"$BONE" plot bone-col="$OUT/bone-col" lora="$OUT/lora" --out "$OUT/bone-vs-lora.svg" \
    --title "GSM8K fine-tuning of the default model: Bone vs LoRA" >/dev/null
echo "plot: $OUT/bone-vs-lora.svg (train loss solid, held-out loss dashed)"
"$BONE" merge --model "$MODEL" --adapter "$OUT/bone-col/adapter" --out "$OUT/merged" >/dev/null
# the first test question whose JSON needs no unescaping (plain text between the quotes)
Q=$(awk 'match($0, /"question": "[^"\\]*"/) { print substr($0, RSTART + 13, RLENGTH - 14); exit }' "$GSM8K/test.jsonl")
PROMPT="Below is an instruction that describes a task. Write a response that appropriately completes the request.

### Instruction:
$Q

### Response:"
echo
echo "the merged Bone model ($OUT/merged) answers a GSM8K test question (greedy):"
echo "Q: $Q"
printf "A:"
"$BONE" generate --model "$OUT/merged" --prompt "$PROMPT" --max-new 120 --stop "###"
echo "(a 5.5M-parameter model after minutes of CPU training: expect GSM8K's form, not its arithmetic;"
echo " bone eval gsm8k --model $OUT/merged --data $GSM8K/test.jsonl scores it)"
echo "runs in $OUT/: metrics.jsonl, run.json, adapter/ (PEFT layout), loss.svg per run"
