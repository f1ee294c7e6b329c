#!/usr/bin/env bash
# test_generate.sh — generation through the binary with a real tokenizer (Mistral's, from
# the npm fixture): greedy output with an unmerged adapter equals the merged model's,
# sampling is reproducible for a seed, --stop cuts the text, and a bad tokenizer path is a
# clear error. usage: test_generate.sh BONE SOURCE_DIR TOKENIZER_CACHE
set -u
BONE=$1
SRC=$2
TOK=${3:-${BONE_CACHE:-$HOME/.cache/bone}/tokenizers}/mistral
. "$(dirname "$0")/lib.sh"
t_begin gen
[ -f "$TOK/tokenizer.json" ] || { bad "missing fixture $TOK/tokenizer.json (run scripts/fetch-tokenizers.sh)"; t_fatal; }

sed -e 's/"vocab_size": 512/"vocab_size": 32000/' -e 's/"hidden_size": 128/"hidden_size": 64/' \
    -e 's/"num_hidden_layers": 4/"num_hidden_layers": 2/' "$SRC/configs/tiny-llama.json" >"$W/cfg.json"
run_ok "init" "$BONE" init --config "$W/cfg.json" --out "$W/base" --seed 5 || t_fatal
cp "$TOK/tokenizer.json" "$TOK/tokenizer_config.json" "$W/base/"
awk 'BEGIN { srand(11); for (n = 0; n < 16; n++) { s = ""; for (t = 0; t < 24; t++) s = s (t ? "," : "") (1000 + int(rand()*2000));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
run_ok "train" "$BONE" train --model "$W/base" --data "$W/data.jsonl" --method bone-col --block 16 --out "$W/run" \
    --steps 6 --batch 4 --lr 5e-2 --quiet || t_fatal
run_ok "merge" "$BONE" merge --model "$W/base" --adapter "$W/run/adapter" --out "$W/merged" || t_fatal
[ -f "$W/merged/tokenizer.json" ] && ok "merge copies the tokenizer" || bad "merge did not copy tokenizer.json"
P="Once upon a time"
a=$("$BONE" generate --model "$W/base" --adapter "$W/run/adapter" --prompt "$P" --max-new 24)
b=$("$BONE" generate --model "$W/merged" --prompt "$P" --max-new 24)
c=$("$BONE" generate --model "$W/base" --prompt "$P" --max-new 24)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "greedy: adapter == merged ($(printf %q "${a:0:40}"))" || bad "adapter [$a] vs merged [$b]"
[ "$a" != "$c" ] && ok "the adapter changes the output" || bad "adapter output equals the base output"
s1=$("$BONE" generate --model "$W/base" --prompt "$P" --max-new 16 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 3)
s2=$("$BONE" generate --model "$W/base" --prompt "$P" --max-new 16 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 3)
s3=$("$BONE" generate --model "$W/base" --prompt "$P" --max-new 16 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 4)
[ "$s1" = "$s2" ] && ok "sampling is reproducible for a seed" || bad "same seed, different samples"
[ "$s1" != "$s3" ] && ok "another seed samples differently" || bad "seeds 3 and 4 gave the same text"
# --stop always runs: the stop string is the text's second whitespace-separated word when it has
# one, else its second half (a one-word output still has a cut point after its first byte)
require_nonempty "greedy output" "$a"
word=$(printf '%s\n' "$a" | tr '\n\t' '  ' | awk '{print $2}')
[ -n "$word" ] || word=${a:$(( ${#a} / 2 )):$(( ${#a} - ${#a} / 2 ))}
[ "${#a}" -ge 2 ] && [ -n "$word" ] && ok "--stop string \"$word\" taken from the output" || bad "output [$a] is too short to test --stop"
d=$("$BONE" generate --model "$W/base" --adapter "$W/run/adapter" --prompt "$P" --max-new 24 --stop "$word")
case "$a" in "$d"*) [ "${#d}" -lt "${#a}" ] && ok "--stop cuts before \"$word\" ([$d])" || bad "--stop did not cut: [$d]";;
             *) bad "--stop output [$d] is not a prefix of [$a]";; esac
"$BONE" generate --model "$W/base" --tokenizer "$W/nope" --prompt x >/dev/null 2>"$W/err"
[ $? -eq 1 ] && grep -q "nope" "$W/err" && ok "missing tokenizer: exit 1 naming the path" || bad "missing tokenizer: $(cat "$W/err")"
t_end
