#!/usr/bin/env bash
# demo.sh — the README's first command. With nothing downloaded, it fine-tunes the embedded
# default model (models/default: a 5.5M-parameter Llama that bone pretrained itself, see
# tools/default-model/) on GSM8K answers with bone-col and with lora at near-equal trainable
# parameters and equal steps, prints a table (trainable params, final train loss, held-out
# loss on GSM8K test, time, peak memory), writes the comparison plot, merges the Bone adapter
# and generates an answer for one test question. Everything goes to out/demo/.
#   DEMO_STEPS (default 200), DEMO_BATCH (8), DEMO_EVAL (100 test questions) scale it.
# It prints a line per phase and the trainer's progress (plain lines every 10 steps when the
# output is not a terminal). --max-len is the longest tokenized example, measured with
# `bone inspect`, so that no GSM8K answer is cut before its final "#### N" line.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${DEMO_STEPS:-200}
BATCH=${DEMO_BATCH:-8}
NEVAL=${DEMO_EVAL:-100}
MODEL=${DEMO_MODEL:-models/default}
# DEMO_MODEL=rwkv6: the same comparison on bone's small RWKV-6 (models/rwkv6, tools/rwkv6-model/)
case "$MODEL" in default) MODEL=models/default ;; rwkv6) MODEL=models/rwkv6 ;; esac
GSM8K=${GSM8K:-data/gsm8k}   # a copy of GSM8K (MIT) ships in the repository
OUT=out/demo
phase() { echo; echo "== [$1/6] $2"; }
phase 1 "building bone in $BUILD/ (the first build takes a minute or two; log: $OUT/build.log)"
mkdir -p "$OUT"
{ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build "$BUILD" -j"$(nproc)" --target bone; } \
    >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; echo "bone demo: the build failed (log: $OUT/build.log)" >&2; exit 1; }
BONE="$BUILD/bone"
find "$OUT" -mindepth 1 -maxdepth 1 ! -name build.log -exec rm -rf {} +
"$BONE" --version | sed 's/^/  /'
PARAMS=$("$BONE" inspect "$MODEL" | awk '/^parameters:/ { printf "%.1fM", $2 / 1e6 }')
head -n "$NEVAL" "$GSM8K/test.jsonl" >"$OUT/test-heldout.jsonl"
phase 2 "measuring the longest tokenized example (Alpaca prompt + answer, default tokenizer)"
# --max-len = the longest example of either file, so that no answer loses its final "#### N"
# line (at 256 tokens, 2,447 of the 7,473 training answers did); --max-len-policy error makes
# the trainer refuse rather than truncate if that ever stops holding
longest() {
    "$BONE" inspect "$1" --tokenizer "$MODEL" --template alpaca --json |
        awk '/"tokens":/ { t = 1 } t && /"max":/ { gsub(/[^0-9]/, ""); print; exit }'
}
L1=$(longest "$GSM8K/train.jsonl")
L2=$(longest "$OUT/test-heldout.jsonl")
MAXLEN=$((L1 > L2 ? L1 : L2))
echo "  longest example: $L1 tokens (train), $L2 (held-out); training with --max-len $MAXLEN"
echo
echo "bone demo: fine-tuning $MODEL ($PARAMS parameters, pretrained by bone) on GSM8K answers"
echo "          with the Alpaca prompt of the Bone/PiSSA experiments: $STEPS steps of $BATCH examples per method"
# near-equal trainable parameters on this model: bone-col b=16 → 233,472; lora r=8 → 224,256
n=2
for spec in "bone-col --block 16" "lora --rank 8 --alpha 16"; do
    set -- $spec
    m=$1
    shift
    n=$((n + 1))
    phase $n "training $m ($*), $STEPS steps; a progress line every 10 steps (log: $OUT/$m.log)"
    "$BONE" train --model "$MODEL" --data "$GSM8K/train.jsonl" --format gsm8k --template alpaca \
        --max-len "$MAXLEN" --max-len-policy error \
        --eval-data "$OUT/test-heldout.jsonl" --eval-every $((STEPS / 2 > 0 ? STEPS / 2 : 1)) --method "$m" "$@" \
        --out "$OUT/$m" --steps "$STEPS" --batch "$BATCH" --lr 2e-3 --schedule cosine --warmup $((STEPS / 20)) \
        --seed 1 2>&1 | tee "$OUT/$m.log" | sed 's/^/  /' >&2
done
phase 5 "results"
# near-equal trainable parameters on this model: bone-col b=16 → 233,472; lora r=8 → 224,256
printf "%-9s %10s %11s %13s %9s %9s\n" method trainable train_loss heldout_loss time_s peak_MiB
for m in bone-col lora; do
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
    --title "GSM8K fine-tuning of $MODEL: Bone vs LoRA" >/dev/null
echo "plot: $OUT/bone-vs-lora.svg (train loss solid, held-out loss dashed)"
phase 6 "merging the Bone adapter into the model and answering a test question"
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
echo "(a $PARAMS-parameter model after minutes of CPU training: expect GSM8K's form, not its arithmetic;"
echo " bone eval gsm8k --model $OUT/merged --data $GSM8K/test.jsonl scores it)"
echo "runs in $OUT/: metrics.jsonl, run.json, adapter/ (PEFT layout), loss.svg per run"
