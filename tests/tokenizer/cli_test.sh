#!/bin/sh
# cli_test.sh — `bone tokenize` end to end on the fetched tokenizers: plain and --json output,
# --add-special, --file, and the exit codes (1: bad input, 2: usage).
# usage: cli_test.sh PATH_TO_BONE
set -u
BONE="$1"
C="${BONE_CACHE:-$HOME/.cache/bone}/tokenizers"
fail=0
check() { # name expected actual
    if [ "$2" != "$3" ]; then echo "FAIL $1: want [$2] got [$3]"; fail=1; else echo "ok   $1"; fi
}
check qwen3-json '{"ids":[9707,1879],"tokens":["Hello","Ġworld"]}' "$("$BONE" tokenize --tokenizer "$C/qwen3" --text 'Hello world' --json)"
check qwen3-digits '18 18 18 18 18 18 18 18 18' "$("$BONE" tokenize --tokenizer "$C/qwen3/tokenizer.json" --text 333333333)"
check llama3 '9906 1917' "$("$BONE" tokenize --tokenizer "$C/llama3" --text 'Hello world')"
check llama3-digits '8765 8765 8765' "$("$BONE" tokenize --tokenizer "$C/llama3" --text 333333333)"
check mistral-bos '1 315 3091 272 5746 302 1411 349' "$("$BONE" tokenize --tokenizer "$C/mistral" --text 'I believe the meaning of life is' --add-special)"
check gpt2-eot '15496 50256' "$("$BONE" tokenize --tokenizer "$C/gpt2" --text 'Hello<|endoftext|>')"
tmp=$(mktemp)
printf 'Hello world' > "$tmp"
check file '9707 1879' "$("$BONE" tokenize --tokenizer "$C/qwen3" --file "$tmp")"
printf 'ab\377' > "$tmp"
out=$("$BONE" tokenize --tokenizer "$C/qwen3" --file "$tmp" 2>&1); rc=$?
check bad-utf8-rc 1 "$rc"
case "$out" in *"offset 2"*) echo "ok   bad-utf8-msg";; *) echo "FAIL bad-utf8-msg: $out"; fail=1;; esac
rm -f "$tmp"
"$BONE" tokenize --tokenizer "$C/qwen3" >/dev/null 2>&1; check usage-rc 2 $?
"$BONE" tokenize --tokenizer "$C/qwen3" --text a --file b >/dev/null 2>&1; check usage-both-rc 2 $?
"$BONE" tokenize --tokenizer /nonexistent --text a >/dev/null 2>&1; check missing-tokenizer-rc 1 $?
exit $fail
