#!/usr/bin/env bash
# batch_decode.sh — batched vs one-at-a-time greedy decoding of the first N GSM8K test prompts
# (`bone eval gsm8k`, Alpaca prompt, GSM8K stops) on a model, side by side in one run, R rounds
# alternating the two (median of the rounds). Both must give the same per-example outputs.
# usage: bench/batch_decode.sh BONE [MODEL=models/default] [N=64] [MAX_NEW=32] [R=1]
set -eu
BONE=$1 MODEL=${2:-models/default} N=${3:-64} MAXNEW=${4:-32} R=${5:-1}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
run() { # BATCH ROUND -> prints tokens/s
    "$BONE" eval gsm8k --model "$MODEL" --data data/gsm8k/test.jsonl --limit "$N" --max-new "$MAXNEW" \
        --batch "$1" --out "$W/out.$1.jsonl" >"$W/stdout.$1.$2" 2>"$W/stderr.$1.$2"
    grep -o '[0-9.]* tokens/s' "$W/stderr.$1.$2" | tail -1 | cut -d' ' -f1
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for r in $(seq "$R"); do
    echo "$(run 1 "$r")" >>"$W/t1"
    echo "$(run "$N" "$r")" >>"$W/tN"
done
cmp -s "$W/out.1.jsonl" "$W/out.$N.jsonl" || { echo "outputs differ between --batch 1 and --batch $N" >&2; exit 1; }
t1=$(median <"$W/t1") tN=$(median <"$W/tN")
echo "model $MODEL, $N GSM8K prompts, --max-new $MAXNEW, $R round(s), outputs identical"
echo "one at a time (--batch 1): $t1 tokens/s"
echo "batched (--batch $N):      $tN tokens/s"
awk -v a="$t1" -v b="$tN" 'BEGIN { printf "ratio: %.2fx\n", b / a }'
