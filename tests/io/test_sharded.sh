#!/usr/bin/env bash
# test_sharded.sh — sharded safetensors output (--max-shard-size) of `bone init`, `bone merge`
# and `bone train --method full`, for Llama and RWKV-6: a small limit forces many shards; check_shards.py (stdlib Python, independent of
# bone) checks the index against the shard headers and huggingface_hub's split, and compares
# every tensor with the single-file save of the same model; bone loads the shards back and
# scores them exactly as the single file; bad sizes are refused.
# usage: test_sharded.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
W=$(mktemp -d /tmp/bone-shard.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
CFG="$SRC/configs/tiny-llama.json"
awk 'BEGIN { srand(9); for (n = 0; n < 8; n++) { s = ""; for (t = 0; t < 24; t++) s = s (t ? "," : "") (3 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"

for dt in f32 bf16; do
    "$BONE" init --config "$CFG" --out "$W/one-$dt" --seed 3 --dtype $dt >/dev/null || bad "init $dt"
    "$BONE" init --config "$CFG" --out "$W/sh-$dt" --seed 3 --dtype $dt --max-shard-size 100KB >"$W/out" 2>&1 \
        || bad "init $dt sharded: $(cat "$W/out")"
    n=$(ls "$W/sh-$dt" | grep -c '^model-.*-of-.*\.safetensors$')
    [ "$n" -gt 2 ] && [ ! -e "$W/sh-$dt/model.safetensors" ] && ok "init $dt --max-shard-size 100KB: $n shards" \
        || bad "init $dt: $n shards: $(ls "$W/sh-$dt" | tr '\n' ' ')"
    "$PY" "$SRC/tests/io/check_shards.py" "$W/sh-$dt" "$W/one-$dt" 100000 && ok "init $dt: index, split and tensors" \
        || bad "init $dt: check_shards.py"
    # bone reads the shards back: the same loss to the last digit as the single file
    a=$("$BONE" score --model "$W/one-$dt" --data "$W/data.jsonl" --json 2>&1)
    b=$("$BONE" score --model "$W/sh-$dt" --data "$W/data.jsonl" --json 2>&1)
    [ -n "$a" ] && [ "$a" = "$b" ] && ok "init $dt: sharded model scores as the single file: $b" \
        || bad "init $dt: scores differ: single $a, sharded $b"
done
# the default (5GB) writes one file with no index
[ -f "$W/one-f32/model.safetensors" ] && [ ! -e "$W/one-f32/model.safetensors.index.json" ] \
    && ok "default size: a single model.safetensors, no index" || bad "default size: $(ls "$W/one-f32" | tr '\n' ' ')"

# merge: a trained LoRA folded into a sharded model equals the single-file merge tensor by tensor
"$BONE" train --model "$W/one-bf16" --data "$W/data.jsonl" --method lora --rank 4 --steps 2 --lr 1e-2 --out "$W/run" \
    --quiet >/dev/null 2>"$W/err" || bad "train: $(cat "$W/err")"
"$BONE" merge --model "$W/one-bf16" --adapter "$W/run/adapter" --out "$W/m1" >/dev/null || bad "merge single"
"$BONE" merge --model "$W/sh-bf16" --adapter "$W/run/adapter" --out "$W/m2" --max-shard-size 0.1MB >/dev/null 2>"$W/err" \
    && bad "merge accepted --max-shard-size 0.1MB" || ok "fractional size refused: $(cat "$W/err" | head -1)"
"$BONE" merge --model "$W/sh-bf16" --adapter "$W/run/adapter" --out "$W/m2" --max-shard-size 64KiB >/dev/null \
    || bad "merge sharded"
"$PY" "$SRC/tests/io/check_shards.py" "$W/m2" "$W/m1" 65536 && ok "merge from shards into 64KiB shards: index, split, tensors" \
    || bad "merge sharded: check_shards.py"
cmp -s "$W/m1/model.safetensors" "$W/one-bf16/model.safetensors" && bad "merge changed nothing (adapter not folded?)" \
    || ok "the merged weights differ from the base"
a=$("$BONE" score --model "$W/m1" --data "$W/data.jsonl" --json 2>&1)
b=$("$BONE" score --model "$W/m2" --data "$W/data.jsonl" --json 2>&1)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "sharded merge scores as the single-file merge" || bad "merge scores: $a vs $b"

# ---- RWKV-6: init, merge (an adapter with --train-extra) and full fine-tuning through the
# same sharded writer; each against its single-file twin, read back by check_shards.py and by bone
RCFG="$SRC/configs/tiny-rwkv6.json"
awk 'BEGIN { srand(11); for (n = 0; n < 6; n++) { s = ""; for (t = 0; t < 20; t++) s = s (t ? "," : "") (1 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/rdata.jsonl"
rscore() { "$BONE" score --model "$1" --data "$W/rdata.jsonl" --json 2>&1; }
"$BONE" init --config "$RCFG" --out "$W/r1" --seed 5 --dtype bf16 >/dev/null || bad "rwkv6 init"
"$BONE" init --config "$RCFG" --out "$W/r2" --seed 5 --dtype bf16 --max-shard-size 50KB >/dev/null || bad "rwkv6 init sharded"
n=$(ls "$W/r2" | grep -c '^model-.*-of-.*\.safetensors$')
[ "$n" -gt 2 ] && ok "rwkv6 init --max-shard-size 50KB: $n shards" || bad "rwkv6 init: $n shards"
"$PY" "$SRC/tests/io/check_shards.py" "$W/r2" "$W/r1" 50000 && ok "rwkv6 init: index, split and tensors" \
    || bad "rwkv6 init: check_shards.py"
a=$(rscore "$W/r1")
b=$(rscore "$W/r2")
[ -n "$a" ] && [ "$a" = "$b" ] && ok "rwkv6 init: sharded model scores as the single file: $b" || bad "rwkv6 init scores: $a vs $b"
"$BONE" train --model "$W/r1" --data "$W/rdata.jsonl" --method bone-col --block 16 --train-extra time,ln --steps 2 \
    --lr 1e-2 --out "$W/rrun" --quiet >/dev/null 2>"$W/err" || bad "rwkv6 train: $(cat "$W/err")"
"$BONE" merge --model "$W/r1" --adapter "$W/rrun/adapter" --out "$W/rm1" >/dev/null || bad "rwkv6 merge single"
"$BONE" merge --model "$W/r2" --adapter "$W/rrun/adapter" --out "$W/rm2" --max-shard-size 40KiB >/dev/null \
    || bad "rwkv6 merge sharded"
"$PY" "$SRC/tests/io/check_shards.py" "$W/rm2" "$W/rm1" 40960 && ok "rwkv6 merge into 40KiB shards: index, split, tensors" \
    || bad "rwkv6 merge sharded: check_shards.py"
cmp -s "$W/rm1/model.safetensors" "$W/r1/model.safetensors" && bad "rwkv6 merge changed nothing" \
    || ok "rwkv6: the merged weights differ from the base"
a=$(rscore "$W/rm1")
b=$(rscore "$W/rm2")
[ -n "$a" ] && [ "$a" = "$b" ] && ok "rwkv6 sharded merge scores as the single-file merge: $b" || bad "rwkv6 merge scores: $a vs $b"
# bone train --max-shard-size: full fine-tuning writes OUT/model as shards + index, the same
# tensors as an unsharded run (training is deterministic), and bone score loads it
for sz in "" 30KB; do
    "$BONE" train --model "$W/r1" --data "$W/rdata.jsonl" --method full --steps 2 --lr 1e-3 --out "$W/rf$sz" --quiet \
        ${sz:+--max-shard-size $sz} >/dev/null 2>"$W/err" || bad "rwkv6 train full $sz: $(cat "$W/err")"
done
n=$(ls "$W/rf30KB/model" | grep -c '^model-.*-of-.*\.safetensors$')
[ "$n" -gt 2 ] && [ -f "$W/rf30KB/model/model.safetensors.index.json" ] && [ -f "$W/rf/model/model.safetensors" ] \
    && ok "train --method full --max-shard-size 30KB: $n shards and an index" || bad "train full sharded: $(ls "$W/rf30KB/model" | tr '\n' ' ')"
"$PY" "$SRC/tests/io/check_shards.py" "$W/rf30KB/model" "$W/rf/model" 30000 && ok "train full sharded: index, split, tensors" \
    || bad "train full sharded: check_shards.py"
a=$(rscore "$W/rf/model")
b=$(rscore "$W/rf30KB/model")
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$(rscore "$W/r1")" ] && ok "train full sharded: bone score loads it: $b" \
    || bad "train full sharded scores: $a vs $b"
"$BONE" train --model "$W/r1" --data "$W/rdata.jsonl" --method lora --steps 1 --out "$W/rbad" --max-shard-size 1MB \
    >/dev/null 2>"$W/err"
rc=$?
[ $rc -eq 2 ] && grep -q "method full" "$W/err" && ok "train --max-shard-size with an adapter refused: $(head -1 "$W/err")" \
    || bad "train --max-shard-size with lora: exit $rc: $(cat "$W/err")"

# sizes: transformers' units; bits and nonsense refused with a usage error (exit 2)
for s in 5Gb 0 -3 12XB ""; do
    "$BONE" init --config "$CFG" --out "$W/bad" --max-shard-size "$s" >/dev/null 2>"$W/err"
    rc=$?
    [ $rc -eq 2 ] && grep -q -- "--max-shard-size" "$W/err" && [ ! -e "$W/bad" ] && ok "--max-shard-size '$s' refused: $(head -1 "$W/err")" \
        || bad "--max-shard-size '$s': exit $rc: $(cat "$W/err")"
done
"$BONE" init --config "$CFG" --out "$W/gib" --max-shard-size 1GiB >/dev/null && [ -f "$W/gib/model.safetensors" ] \
    && ok "1GiB accepted: one file" || bad "1GiB"
echo "sharded tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
