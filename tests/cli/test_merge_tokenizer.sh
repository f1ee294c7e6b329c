#!/usr/bin/env bash
# test_merge_tokenizer.sh — `bone merge` copies every tokenizer file the loader reads: a model
# directory whose tokenizer is GPT-2's vocab.json + merges.txt (no tokenizer.json) keeps it in
# the merged directory, which then encodes a text exactly as the base directory does.
# usage: test_merge_tokenizer.sh BONE SOURCE_DIR TOKENIZER_CACHE
set -u
BONE=$1
SRC=$2
TOK=${3:-${BONE_CACHE:-$HOME/.cache/bone}/tokenizers}/gpt2
. "$SRC/tests/cli/lib.sh"
t_begin mtok
[ -f "$TOK/encoder.json" ] && [ -f "$TOK/vocab.bpe" ] \
    || { bad "missing fixture $TOK/encoder.json, vocab.bpe (run scripts/fetch-tokenizers.sh)"; t_fatal; }
"$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/base" --seed 7 >/dev/null || bad "init"
# GPT-2's files under the names transformers' GPT2Tokenizer saves (same formats)
cp "$TOK/encoder.json" "$W/base/vocab.json"
cp "$TOK/vocab.bpe" "$W/base/merges.txt"
awk 'BEGIN { srand(9); for (n = 0; n < 8; n++) { s = ""; for (t = 0; t < 24; t++) s = s (t ? "," : "") (3 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
"$BONE" train --model "$W/base" --data "$W/data.jsonl" --method bone-col --block 16 --out "$W/run" --steps 1 --batch 4 \
    --quiet 2>"$W/err" || bad "train: $(cat "$W/err")"
"$BONE" merge --model "$W/base" --adapter "$W/run/adapter" --out "$W/merged" >/dev/null 2>"$W/err" || bad "merge: $(cat "$W/err")"
for f in vocab.json merges.txt; do
    cmp -s "$W/base/$f" "$W/merged/$f" && ok "merge copies $f" || bad "merged directory lacks $f (or it differs)"
done
T="Hello world, it's 2026: naïve café ünïcödé 12345"
a=$("$BONE" tokenize --tokenizer "$W/base" --text "$T" 2>&1)
b=$("$BONE" tokenize --tokenizer "$W/merged" --text "$T" 2>&1)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "merged directory encodes as the base: $a" || bad "base [$a] vs merged [$b]"
t_end
