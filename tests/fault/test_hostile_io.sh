#!/usr/bin/env bash
# test_hostile_io.sh — hostile and careless file inputs from the hostile-use review
# (shared reviews/hostile-use-2026-12.md, B2 B6 B14 B18 B19 B20 B23, P1-P4 P14 P15 P26 P27 P29):
# empty paths, symlinks planted where bone writes its temporaries, FIFOs and devices where files
# belong, non-finite and out-of-range config values, headers with huge tensor counts, stale
# temporaries of a killed run, and a model too big to initialise. Each case checks the exit
# status and the message; every command runs under `timeout` (a hang is a failure, exit 124).
# docs/bad-inputs.md cites these cases by name.
# usage: test_hostile_io.sh BONE SOURCE_DIR
set -u
BONE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
. "$SRC/tests/cli/lib.sh"
t_begin hostile-io
LIVE=""
cleanup() { [ -n "$LIVE" ] && kill "$LIVE" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
CASE_TIMEOUT=${BONE_HOSTILE_TIMEOUT:-30} # seconds (case_ in lib.sh); generous: every case takes well under one second when it works
cfg() { # cfg FILE EXTRA_JSON_FIELDS : a tiny llama config.json with fields added/overridden (raw JSON text)
    python3 - "$@" <<'PY'
import json, sys
c = {"model_type": "llama", "vocab_size": 300, "hidden_size": 32, "intermediate_size": 64,
     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 64,
     "bos_token_id": 1, "eos_token_id": 2}
# the extra fields are copied as text (json.dumps would turn 1e999 into Infinity)
for k in json.loads(sys.argv[2]): c.pop(k, None)
text = json.dumps(c)[:-1]
extra = sys.argv[2].strip()[1:-1].strip()
open(sys.argv[1], "w").write(text + (", " + extra if extra else "") + "}")
PY
}

cfg "$W/tiny.json" '{}'
timeout "$CASE_TIMEOUT" "$BONE" init --config "$W/tiny.json" --out "$W/m" --seed 1 >/dev/null || { echo "FAIL init"; exit 1; }
printf '{"input_ids":[1,5,6,7,8]}\n{"input_ids":[1,9,10]}\n' >"$W/good.jsonl"
model_copy() { # model_copy NAME : a copy of the good model directory to break
    rm -rf "$W/$1"; mkdir -p "$W/$1"; cp "$W/m/config.json" "$W/m/model.safetensors" "$W/$1/"
}

# ---- B2: empty paths (a heap over-read in bone_mkdirs before)
case_ out-empty-init 2 "--out must not be empty" "$BONE" init --config "$W/tiny.json" --out ""
case_ out-empty-train 2 "--out must not be empty" "$BONE" train --model "$W/m" --data "$W/good.jsonl" --method lora \
    --steps 1 --out ""
case_ out-empty-merge 2 "--out must not be empty" "$BONE" merge --model "$W/m" --adapter "$W/m" --out ""
case_ data-empty 2 "--data must not be empty" "$BONE" score --model "$W/m" --data ""

# ---- B6: symlinks planted under the names of bone's temporaries must not redirect a write
echo "precious" >"$W/victim"
mkdir -p "$W/plant"
python3 - "$W/plant" "$W/victim" <<'PY'
import os, sys
d, victim = sys.argv[1], sys.argv[2]
# the old name was PATH.tmp.PID: cover the next 30000 pids (bone starts right after this)
me = os.getpid()
for pid in range(me + 1, me + 30001):
    for f in ("config.json", "model.safetensors"):
        os.symlink(victim, "%s/%s.tmp.%d" % (d, f, pid))
PY
# the replacement directory takes over the 60,000 entries of the existing --out (bone_adir keeps a
# directory's other files): ~4 s under ASan alone, and it once passed 30 s beside the other
# tests' writes and fsyncs in CI, so this case has 4x the hang guard
timeout "$((CASE_TIMEOUT * 4))" "$BONE" init --config "$W/tiny.json" --out "$W/plant" --seed 1 >/dev/null 2>"$W/err"
rc=$?
[ "$rc" -eq 0 ] && ok "symlink-plant: init into a directory with 60000 planted symlinks succeeds" \
    || bad "symlink-plant: init failed (exit $rc$([ "$rc" -eq 124 ] && echo ', timed out')): $(cat "$W/err")"
[ "$(cat "$W/victim")" = "precious" ] && ok "symlink-plant: the symlinks' target is untouched" \
    || bad "symlink-plant: the victim outside --out was overwritten ($(head -c 60 "$W/victim" | tr -dc '[:print:]'))"
[ -f "$W/plant/config.json" ] && [ ! -L "$W/plant/config.json" ] && [ -f "$W/plant/model.safetensors" ] \
    && [ ! -L "$W/plant/model.safetensors" ] && ok "symlink-plant: config.json and model.safetensors are regular files" \
    || bad "symlink-plant: outputs are symlinks: $(ls -l "$W/plant/config.json" "$W/plant/model.safetensors")"
cmp -s "$W/plant/model.safetensors" "$W/m/model.safetensors" && ok "symlink-plant: the model is the one a clean init writes" \
    || bad "symlink-plant: model.safetensors differs from a clean init's"
[ "$(find "$W/plant" -type l | wc -l)" -eq 60000 ] && ok "symlink-plant: the planted symlinks were left alone" \
    || bad "symlink-plant: $(find "$W/plant" -type l | wc -l) of 60000 planted symlinks remain"

# ---- B20: a killed save's temporary is removed when the run saves again; a live writer's is kept
TARGS=(--model "$W/m" --data "$W/good.jsonl" --method lora --rank 2 --steps 4 --batch 1 --save-every 2 --keep 3 --quiet)
timeout 120 "$BONE" train "${TARGS[@]}" --out "$W/r" >/dev/null 2>"$W/err" || bad "stale-temp: fixture run: $(cat "$W/err")"
dead=$(sh -c 'echo $$')        # a pid that no longer runs, as after kill -9
sleep 300 & LIVE=$!             # a writer that still runs
C="$W/r/checkpoints"
head -c 100000 /dev/urandom >"$C/step-00000003.safetensors.tmp.$dead.0123456789abcdef"
head -c 1000 /dev/urandom >"$C/step-00000005.safetensors.tmp.$dead"   # the name older bones used
head -c 1000 /dev/urandom >"$C/step-00000007.safetensors.tmp.$LIVE.fedcba9876543210"
echo keep >"$C/notes.tmp.txt"
rm "$C/step-00000004.safetensors"
timeout 120 "$BONE" train "${TARGS[@]}" --out "$W/r" --resume >/dev/null 2>"$W/err" || bad "stale-temp: resume: $(cat "$W/err")"
[ ! -e "$C/step-00000003.safetensors.tmp.$dead.0123456789abcdef" ] && [ ! -e "$C/step-00000005.safetensors.tmp.$dead" ] \
    && ok "stale-temp: the killed writer's temporaries are gone" || bad "stale-temp: left: $(ls "$C" | tr '\n' ' ')"
[ -e "$C/step-00000007.safetensors.tmp.$LIVE.fedcba9876543210" ] && [ -e "$C/notes.tmp.txt" ] && [ -e "$C/step-00000004.safetensors" ] \
    && ok "stale-temp: a running writer's temporary, other files and the new checkpoint are kept" \
    || bad "stale-temp: removed too much: $(ls "$C" | tr '\n' ' ')"
kill "$LIVE" 2>/dev/null; wait "$LIVE" 2>/dev/null; LIVE=""

# ---- B14, P14: config values
cfg "$W/c1.json" '{"rope_theta": 1e999}'
case_ config-rope-theta-inf 1 'field "rope_theta" must be a finite number > 0, got inf' "$BONE" init --config "$W/c1.json" --out "$W/c1"
[ ! -e "$W/c1" ] && ok "config-rope-theta-inf: no model written" || bad "config-rope-theta-inf: $W/c1 was created"
cfg "$W/c2.json" '{"rms_norm_eps": 1e999}'
case_ config-eps-inf 1 'field "rms_norm_eps" must be a finite number > 0, got inf' "$BONE" count --config "$W/c2.json" --method lora
cfg "$W/c3.json" '{"initializer_range": 1e999}'
case_ config-init-range-inf 1 'field "initializer_range" must be a finite number > 0, got inf' "$BONE" count --config "$W/c3.json" --method lora
cfg "$W/c4.json" '{"initializer_range": -5}'
case_ config-init-range-negative 1 'field "initializer_range" must be a finite number > 0, got -5' "$BONE" count --config "$W/c4.json" --method lora
cfg "$W/c5.json" '{"eos_token_id": -7}'
case_ config-eos-negative 1 'field "eos_token_id" = -7 is outside the vocabulary [0, 300)' "$BONE" count --config "$W/c5.json" --method lora
cfg "$W/c6.json" '{"bos_token_id": 1000000000}'
case_ config-bos-outside-vocab 1 'field "bos_token_id" = 1000000000 is outside the vocabulary [0, 300)' "$BONE" count --config "$W/c6.json" --method lora
cfg "$W/c7.json" '{"eos_token_id": [2, 300]}'
case_ config-eos-list-outside-vocab 1 'field "eos_token_id" = 300 is outside the vocabulary [0, 300)' "$BONE" count --config "$W/c7.json" --method lora
cfg "$W/c8.json" '{"torch_dtype": "float64"}'
case_ config-dtype-unknown 1 'torch_dtype "float64" is not supported (float32, bfloat16 or float16)' "$BONE" count --config "$W/c8.json" --method lora
cfg "$W/c9.json" '{"pad_token_id": -1}'
case_ config-pad-minus-one-ok 0 "" "$BONE" count --config "$W/c9.json" --method lora

# ---- P15: nesting deeper than the JSON reader allows
python3 -c "import sys; open(sys.argv[1], 'w').write('[' * 100000)" "$W/nest.json"
case_ config-nesting 1 "JSON nested deeper than 1000 levels" "$BONE" count --config "$W/nest.json" --method lora

# ---- B18: huge counts must not take quadratic time (a hang guard, not a benchmark)
python3 - "$W/many.safetensors" <<'PY'
import json, struct, sys
h = {"t%06d" % i: {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(150000)}
b = json.dumps(h, separators=(",", ":")).encode()
b += b" " * (-len(b) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(b)) + b)
PY
case_ st-150k-tensors 0 "" "$BONE" inspect "$W/many.safetensors"
grep -q "t149999" "$W/out" && ok "st-150k-tensors: inspect lists the last tensor" || bad "st-150k-tensors: output lacks t149999"
python3 - "$W/dupkeys.safetensors" <<'PY'
import json, struct, sys
e = '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}'
b = ("{" + ",".join('"t%06d":%s' % (i, e) for i in range(150000)) + ',"t000000":' + e + "}").encode()
b += b" " * (-len(b) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(b)) + b)
PY
case_ st-150k-duplicate-last 1 'duplicate key "t000000"' "$BONE" inspect "$W/dupkeys.safetensors"
model_copy sh; rm "$W/sh/model.safetensors"; cp "$W/m/model.safetensors" "$W/sh/model-00001-of-00002.safetensors"
python3 - "$W/sh" "$W/m/model.safetensors" <<'PY'
import json, struct, sys
d, src = sys.argv[1], sys.argv[2]
b = open(src, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
wm = {k: "model-00001-of-00002.safetensors" for k in json.loads(b[8:8 + n]) if k != "__metadata__"}
extra = {"extra.%06d" % i: {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(150000)}
h = json.dumps(extra, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
open(d + "/model-00002-of-00002.safetensors", "wb").write(struct.pack("<Q", len(h)) + h)
wm.update({k: "model-00002-of-00002.safetensors" for k in extra})
json.dump({"metadata": {}, "weight_map": wm}, open(d + "/model.safetensors.index.json", "w"))
PY
# every weight_map entry is looked up by name: 150,000 of them must not take minutes
case_ index-150k-entries 1 'unexpected tensor "extra.000000"' "$BONE" score --model "$W/sh" --data "$W/good.jsonl"
python3 -c "
import json, sys
c = json.load(open(sys.argv[1])); c.update({'k%06d' % i: i for i in range(60000)}); json.dump(c, open(sys.argv[2], 'w'))
" "$W/tiny.json" "$W/keys.json"
case_ config-60k-keys 1 "60010 keys; a model config has a few dozen (at most 10000 accepted)" "$BONE" count --config "$W/keys.json" --method lora
python3 -c "
import json, sys
c = json.load(open(sys.argv[1])); c.update({'k%06d' % i: i for i in range(9000)}); json.dump(c, open(sys.argv[2], 'w'))
" "$W/tiny.json" "$W/keys9k.json"
case_ config-9k-keys-ok 0 "" "$BONE" count --config "$W/keys9k.json" --method lora

# ---- B19, P1: FIFOs (open() would wait for a writer forever), directories, symlink loops
model_copy f1; rm "$W/f1/model.safetensors"; mkfifo "$W/f1/model.safetensors"
case_ fifo-model-safetensors 1 "f1/model.safetensors: not a regular file (a FIFO or pipe)" "$BONE" score --model "$W/f1" --data "$W/good.jsonl"
model_copy f2; rm "$W/f2/model.safetensors"; cp "$W/m/model.safetensors" "$W/f2/model-00001-of-00002.safetensors"
mkfifo "$W/f2/model-00002-of-00002.safetensors"
echo '{"weight_map":{"model.embed_tokens.weight":"model-00001-of-00002.safetensors","model.norm.weight":"model-00002-of-00002.safetensors"}}' \
    >"$W/f2/model.safetensors.index.json"
case_ fifo-shard 1 "model-00002-of-00002.safetensors: not a regular file (a FIFO or pipe)" "$BONE" score --model "$W/f2" --data "$W/good.jsonl"
model_copy f3; rm "$W/f3/config.json"; mkfifo "$W/f3/config.json"
case_ fifo-config 1 "f3/config.json: not a regular file (a FIFO or pipe)" "$BONE" score --model "$W/f3" --data "$W/good.jsonl"
model_copy f4; mkfifo "$W/f4/tokenizer.json"
case_ fifo-tokenizer 1 "f4/tokenizer.json: not a regular file (a FIFO or pipe)" "$BONE" tokenize --tokenizer "$W/f4/tokenizer.json" --text hi
case_ fifo-tokenizer-in-model 1 "f4/tokenizer.json: not a regular file (a FIFO or pipe)" "$BONE" tokenize --tokenizer "$W/f4" --text hi
timeout 60 "$BONE" train --model "$W/m" --data "$W/good.jsonl" --method lora --rank 2 --steps 1 --batch 1 --quiet \
    --out "$W/a" >/dev/null 2>"$W/err" || bad "adapter fixture: $(cat "$W/err")"
mkdir -p "$W/f5"; cp "$W/a/adapter/adapter_config.json" "$W/f5/"; mkfifo "$W/f5/adapter_model.safetensors"
case_ fifo-adapter 1 "f5/adapter_model.safetensors: not a regular file (a FIFO or pipe)" "$BONE" score --model "$W/m" --data "$W/good.jsonl" --adapter "$W/f5"
model_copy d1; rm "$W/d1/model.safetensors"; mkdir "$W/d1/model.safetensors"
case_ dir-model-safetensors 1 "d1/model.safetensors: is a directory, not a file" "$BONE" score --model "$W/d1" --data "$W/good.jsonl"
model_copy l1; rm "$W/l1/model.safetensors"; ln -s model.safetensors "$W/l1/model.safetensors"
case_ loop-model-safetensors 1 "l1/model.safetensors: cannot open: Too many levels of symbolic links" "$BONE" score --model "$W/l1" --data "$W/good.jsonl"

# ---- P2, P3, P4: safetensors and index messages
st() { # st FILE HEADER : a safetensors file with that header and no data
    python3 -c "import struct,sys; h=sys.argv[2].encode(); open(sys.argv[1],'wb').write(struct.pack('<Q',len(h))+h)" "$1" "$2"
}
model_copy s1; st "$W/s1/model.safetensors" '{"a":{"dtype":"F32","shape":[536870912,1073741824],"data_offsets":[0,0]}}'
case_ st-bits-overflow 1 'tensor "a": shape product overflows' "$BONE" score --model "$W/s1" --data "$W/good.jsonl"
model_copy s2; rm "$W/s2/model.safetensors"; echo '{"weight_map":{}}' >"$W/s2/model.safetensors.index.json"
case_ index-empty 1 's2/model.safetensors.index.json: "weight_map" is empty' "$BONE" score --model "$W/s2" --data "$W/good.jsonl"
model_copy s3; rm "$W/s3/model.safetensors"; echo '{"weight_map":["model.safetensors"]}' >"$W/s3/model.safetensors.index.json"
case_ index-not-object 1 's3/model.safetensors.index.json: "weight_map" must be an object' "$BONE" score --model "$W/s3" --data "$W/good.jsonl"

# ---- B23, P26, P27: data and inspect on things that are not regular files
case_ data-dev-zero 1 "/dev/zero: not a regular file (a character device)" "$BONE" score --model "$W/m" --data /dev/zero
mkdir -p "$W/dd"
case_ data-directory 1 "dd: is a directory" "$BONE" score --model "$W/m" --data "$W/dd"
mkfifo "$W/fifo.jsonl"
case_ inspect-fifo 1 "fifo.jsonl: not a regular file (a FIFO or pipe)" "$BONE" inspect "$W/fifo.jsonl"
case_ inspect-dev-null 1 "/dev/null: not a regular file (a character device)" "$BONE" inspect /dev/null
case_ inspect-missing 1 "nope.jsonl: no such file or directory" "$BONE" inspect "$W/nope.jsonl"

# ---- P29: a model too large to initialise is refused before anything is created
cfg "$W/huge.json" '{"vocab_size": 16777216, "hidden_size": 262144, "num_attention_heads": 2048, "num_key_value_heads": 2048}'
case_ init-too-big 1 "GiB of memory to initialise (fp32), but" "$BONE" init --config "$W/huge.json" --out "$W/huge"
[ ! -e "$W/huge" ] && ok "init-too-big: no directory left behind" || bad "init-too-big: $W/huge was created"

t_end
