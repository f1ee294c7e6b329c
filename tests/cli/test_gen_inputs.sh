#!/usr/bin/env bash
# test_gen_inputs.sh — command-line inputs of generate, count and tokenize on the embedded
# default model (models/default): an empty --prompt generates unconditionally (from the
# end-of-text token this tokenizer has instead of a BOS) and is refused clearly when the tokenizer
# has neither; non-finite --temperature/--top-p, an empty --stop are usage errors (exit 2);
# --max-new near INT64_MAX is clamped to the model's positions; `bone count --config` takes any
# file name as a file and a directory as its config.json; `bone tokenize` separates its label
# from the message. usage: test_gen_inputs.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
D=$SRC/models/default
. "$SRC/tests/cli/lib.sh"
t_begin genin
[ -f "$D/model.safetensors" ] || { bad "missing $D"; t_fatal; }

# --- an empty prompt (project issue 15): HF generate starts from BOS, else from end-of-text
a=$("$BONE" generate --model "$D" --prompt "" --max-new 16 2>"$W/err"); rc=$?
b=$("$BONE" generate --model "$D" --prompt "<|endoftext|>" --max-new 16)
[ $rc -eq 0 ] && [ -n "$a" ] && [ "$a" = "$b" ] \
    && ok "empty prompt generates from <|endoftext|> ($(printf %q "${a:0:30}"))" || bad "empty prompt: rc $rc [$a] vs [$b] $(cat "$W/err")"
mkdir "$W/nob" && cp "$D"/config.json "$D"/model.safetensors "$D"/tokenizer.json "$W/nob/"
sed -e 's/"eos_token": "<|endoftext|>"/"eos_token": null/' -e 's/"pad_token": "<|endoftext|>"/"pad_token": null/' \
    "$D/tokenizer_config.json" >"$W/nob/tokenizer_config.json"
"$BONE" generate --model "$W/nob" --prompt "" --max-new 4 >/dev/null 2>"$W/err"; rc=$?
[ $rc -eq 1 ] && grep -q "neither a BOS nor an end-of-text token" "$W/err" \
    && ok "empty prompt, no BOS or EOS: exit 1, $(cat "$W/err")" || bad "no BOS/EOS: rc $rc $(cat "$W/err")"

# --- usage errors (hostile B24, P28)
usage() { # NAME EXPECTED-TEXT ARGS...
    local name=$1 want=$2; shift 2
    "$BONE" generate --model "$D" --prompt Hello --max-new 8 "$@" >"$W/out" 2>"$W/err"; local rc=$?
    [ $rc -eq 2 ] && [ ! -s "$W/out" ] && grep -qF -- "$want" "$W/err" && ok "$name: exit 2, $(head -1 "$W/err")" \
        || bad "$name: rc $rc, stdout $(od -c "$W/out" | head -2), stderr $(cat "$W/err")"
}
usage "--temperature nan" "--temperature must be a finite number" --temperature nan
usage "--temperature inf" "--temperature must be a finite number" --temperature inf
usage "--top-p nan" "--top-p must be in (0, 1]" --top-p nan
usage "--stop \"\"" "--stop must not be empty" --stop ""

# --- --max-new near INT64_MAX (hostile B17): clamped to the 1024 positions, no overflow
# (on a copy that allows 48 positions, so that the test stays short)
mkdir "$W/short" && cp "$D"/model.safetensors "$D"/tokenizer.json "$D"/tokenizer_config.json "$W/short/"
sed 's/"max_position_embeddings":[^,]*,/"max_position_embeddings": 48,/' "$D/config.json" >"$W/short/config.json"
"$BONE" generate --model "$W/short" --prompt "Question: 1+1?" --max-new 9223372036854775807 >"$W/out" 2>"$W/err"; rc=$?
[ $rc -eq 0 ] && [ -s "$W/out" ] && ! grep -q "positions" "$W/err" \
    && ok "--max-new 9223372036854775807 generates" || bad "--max-new INT64_MAX: rc $rc $(cat "$W/err")"

# --- bone count --config FILE decides by what the path is (review 13.8)
want=$("$BONE" count --config "$D" --method lora --json)
cp "$D/config.json" "$W/llama.cfg"
got=$("$BONE" count --config "$W/llama.cfg" --method lora --json 2>"$W/err")
[ -n "$want" ] && [ "$got" = "$want" ] && ok "count --config FILE.cfg reads the file: $got" || bad "count .cfg: [$got] vs [$want] $(cat "$W/err")"
"$BONE" count --config "$W/none.cfg" --method lora >/dev/null 2>"$W/err"; rc=$?
[ $rc -eq 1 ] && grep -qF "$W/none.cfg: cannot open" "$W/err" && ! grep -q "none.cfg/config.json" "$W/err" \
    && ok "count of a missing file names it" || bad "count missing file: rc $rc $(cat "$W/err")"

# --- bone tokenize: "LABEL: message" (hostile P5)
"$BONE" tokenize --tokenizer "$D" --text $'caf\xe9' >/dev/null 2>"$W/err"; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$W/err")" = "bone tokenize: --text: invalid UTF-8 at byte offset 3" ] \
    && ok "tokenize --text error: $(cat "$W/err")" || bad "tokenize --text: rc $rc [$(cat "$W/err")]"
printf 'caf\xe9' >"$W/t.txt"
"$BONE" tokenize --tokenizer "$D" --file "$W/t.txt" >/dev/null 2>"$W/err"; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$W/err")" = "bone tokenize: $W/t.txt: invalid UTF-8 at byte offset 3" ] \
    && ok "tokenize --file error names the file" || bad "tokenize --file: rc $rc [$(cat "$W/err")]"
# a message that does not begin with "tokenize" (the old code glued the label to it)
cat >"$W/tk.json" <<'TK'
{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null,
 "decoder": null, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}}
TK
"$BONE" tokenize --tokenizer "$W/tk.json" --text "ah" >/dev/null 2>"$W/err"; rc=$?
[ $rc -eq 1 ] && [ "$(cat "$W/err")" = "bone tokenize: --text: $W/tk.json: character U+0068 is not in the vocabulary and there is no unk_token" ] \
    && ok "tokenize --text: label, then the tokenizer's message" || bad "tokenize label: rc $rc [$(cat "$W/err")]"
t_end
