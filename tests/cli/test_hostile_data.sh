#!/usr/bin/env bash
# test_hostile_data.sh — regressions for the data, adapter, loss and output-path findings of
# shared/reviews/hostile-use-2026-12.md (B1, B11-B13, B16, B25, P6, P7, P10-P13, P31, P32,
# P35): each case builds the hostile input, runs the real binary and checks the exit status
# and the message (or the number) the user gets. usage: test_hostile_data.sh BONE SOURCE_DIR
set -u
BONE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
. "$SRC/tests/cli/lib.sh"
t_begin hostile-data
loss() { sed -E 's/.*"loss": ([^,}]*).*/\1/'; }
# poke DIR TENSOR INDEX VALUE : sets one element of a tensor of DIR/model.safetensors (any float dtype)
poke() {
    python3 - "$@" <<'PY'
import json, struct, sys
d, name, idx, val = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
p = d + "/model.safetensors" if not d.endswith(".safetensors") else d
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
t = h[name]
if t["dtype"] == "F32":
    o = 8 + n + t["data_offsets"][0] + 4 * idx; b[o:o + 4] = struct.pack("<f", val)
elif t["dtype"] == "BF16":
    o = 8 + n + t["data_offsets"][0] + 2 * idx; b[o:o + 2] = struct.pack("<f", val)[2:]
else:
    o = 8 + n + t["data_offsets"][0] + 2 * idx; b[o:o + 2] = struct.pack("<e", val)
open(p, "wb").write(b)
PY
}

"$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/m" --seed 3 >/dev/null || { echo "FAIL init"; exit 1; }
awk 'BEGIN { srand(5); for (n = 0; n < 16; n++) { s = ""; k = 8 + int(rand() * 16);
             for (t = 0; t < k; t++) s = s (t ? "," : "") (3 + int(rand() * 500)); print "{\"input_ids\":[" s "]}" } }' \
    >"$W/tok.jsonl"
base=$("$BONE" score --model "$W/m" --data "$W/tok.jsonl" --json | loss)
[ -n "$base" ] || { echo "FAIL base score"; exit 1; }

# ---- B12, P35: a NaN or Inf weight gives an error (exit 1) naming the tensor, not a finite loss
for v in nan inf; do
    cp -r "$W/m" "$W/m-$v"
    poke "$W/m-$v" model.layers.0.self_attn.q_proj.weight 5 "$v"
    case_ "B12 score, $v in q_proj" 1 "model.layers.0.self_attn.q_proj.weight[5]" \
        "$BONE" score --model "$W/m-$v" --data "$W/tok.jsonl" --json
done
cp -r "$W/m" "$W/m-norm"
poke "$W/m-norm" model.norm.weight 0 nan
case_ "P35 score, nan in model.norm" 1 "model.norm.weight[0]" "$BONE" score --model "$W/m-norm" --data "$W/tok.jsonl"

case_ "B12 inspect names a non-finite weight" 0 "model.layers.0.self_attn.q_proj.weight[5]" "$BONE" inspect m-nan --json
grep -q '"non_finite":\s*1' "$W/out" || bad "B12 inspect --json: no \"non_finite\": 1 in $(head -c 300 "$W/out")"
case_ "B12 inspect of a clean model" 0 "" "$BONE" inspect m --json
grep -q '"non_finite":\s*0' "$W/out" || bad "B12 inspect --json of a clean model: no \"non_finite\": 0"

# ---- B16: nothing to score is an error, not {"loss": nan}
echo '{"input_ids": [5, 6, 7], "labels": [-100, -100, -100]}' >"$W/allign.jsonl"
case_ "B16 score --json, no label tokens" 1 "no label tokens to score" \
    "$BONE" score --model "$W/m" --data "$W/allign.jsonl" --json
grep -q nan "$W/out" && bad "B16: stdout has nan: $(cat "$W/out")"

# ---- B1: data from a pipe is read once (the format sniff used to eat the first 4096 bytes)
python3 - "$W/d100.jsonl" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    for i in range(100):  # every line exactly 64 bytes, so 4096 bytes = 64 whole lines
        s = '{"input_ids": [' + ", ".join(str(random.randint(100, 499)) for _ in range(11)) + "]}"
        f.write(s + " " * (63 - len(s)) + "\n")
PY
want=$("$BONE" score --model "$W/m" --data "$W/d100.jsonl")
case "$want" in *"(100 examples)"*) ok "B1 regular file: $want" ;; *) bad "B1 regular file: $want" ;; esac
got=$(cat "$W/d100.jsonl" | "$BONE" score --model "$W/m" --data /dev/stdin 2>&1)
[ "$got" = "$want" ] && ok "B1 --data /dev/stdin from a pipe: $got" || bad "B1 --data /dev/stdin: $got (file: $want)"
got=$("$BONE" score --model "$W/m" --data <(cat "$W/d100.jsonl") 2>&1)
[ "$got" = "$want" ] && ok "B1 --data <(cat f): $got" || bad "B1 --data <(cat f): $got (file: $want)"
head -n 10 "$W/d100.jsonl" >"$W/small.jsonl"
want=$("$BONE" score --model "$W/m" --data "$W/small.jsonl")
got=$("$BONE" score --model "$W/m" --data <(cat "$W/small.jsonl") 2>&1)
[ "$got" = "$want" ] && ok "B1 small file through a pipe: $got" || bad "B1 small file through a pipe: $got (file: $want)"

# ---- P6: a UTF-8 byte order mark before the first record is skipped (tokens and text data)
printf '\xef\xbb\xbf' | cat - "$W/tok.jsonl" >"$W/bom.jsonl"
got=$("$BONE" score --model "$W/m" --data "$W/bom.jsonl" --json 2>&1 | loss)
[ "$got" = "$base" ] && ok "P6 BOM, pre-tokenized: loss $got" || bad "P6 BOM, pre-tokenized: $got (without BOM: $base)"
D="$(cd "$SRC" && pwd)/models/default"
printf '{"question": "What is 1+1?", "answer": "2\\n#### 2"}\n' >"$W/g1.jsonl"
printf '\xef\xbb\xbf' | cat - "$W/g1.jsonl" >"$W/g1bom.jsonl"
a=$("$BONE" score --model "$D" --data "$W/g1.jsonl" --json 2>&1)
b=$("$BONE" score --model "$D" --data "$W/g1bom.jsonl" --json 2>&1)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "P6 BOM, gsm8k text: $b" || bad "P6 BOM, gsm8k text: $b (without BOM: $a)"

# ---- P7: a key given twice in a data line is refused, as in config.json
echo '{"input_ids":[1,2,3],"input_ids":[4,5,6,7]}' >"$W/dup.jsonl"
case_ "P7 duplicate key, pre-tokenized" 1 'dup.jsonl:1: duplicate key "input_ids"' \
    "$BONE" score --model "$W/m" --data "$W/dup.jsonl"

# ---- P32: the format comes from the first record's top-level keys, not a text search
echo '{"text": "hello world", "meta": {"input_ids": 1}}' >"$W/sniff.jsonl"
case_ "P32 nested input_ids is text data" 0 "" "$BONE" score --model "$D" --data "$W/sniff.jsonl"
echo '{"text": "the field \"input_ids\" is mentioned"}' >"$W/sniff2.jsonl"
case_ "P32 input_ids inside a string is text data" 0 "" "$BONE" score --model "$D" --data "$W/sniff2.jsonl"
case_ "P32 malformed first line still says where" 1 "t.jsonl:1:" \
    bash -c "echo '{\"input_ids\": [1,2' >t.jsonl; \"$BONE\" score --model m --data t.jsonl"

# ---- adapters: a LoRA r=4 on M, then edited copies of it
"$BONE" train --model "$W/m" --data "$W/tok.jsonl" --method lora --rank 4 --alpha 8 --steps 3 --lr 2e-2 --out "$W/run0" \
    --quiet >/dev/null 2>"$W/err" || { bad "train: $(cat "$W/err")"; }
A="$W/run0/adapter"
# adapter NAME PYTHON : copies A to W/NAME and runs PYTHON with c = its config (dict), t = its tensors
# ({name: (dtype, shape, bytes)}); both are written back
adapter() {
    rm -rf "${W:?}/$1"; cp -r "$A" "$W/$1"
    python3 - "$W/$1" "$2" <<'PY'
import json, struct, sys
d, code = sys.argv[1], sys.argv[2]
c = json.load(open(d + "/adapter_config.json"))
b = open(d + "/adapter_model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
meta = h.pop("__metadata__", None)
t = {k: (v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
exec(code)
json.dump(c, open(d + "/adapter_config.json", "w"))
hdr, data, off = {}, b"", 0
if meta is not None: hdr["__metadata__"] = meta
for k, (dt, sh, by) in t.items():
    hdr[k] = {"dtype": dt, "shape": sh, "data_offsets": [off, off + len(by)]}; data += by; off += len(by)
hj = json.dumps(hdr).encode(); hj += b" " * (-len(hj) % 8)
open(d + "/adapter_model.safetensors", "wb").write(struct.pack("<Q", len(hj)) + hj + data)
PY
}
sc() { "$BONE" score --model "$W/m" --data "$W/tok.jsonl" --json "$@" 2>"$W/err" | loss; }

# B11: lora_alpha 0 means scaling 0 (PEFT: alpha / r), not "unset"; an absent key is the default
with=$(sc --adapter "$A")
adapter a0 'c["lora_alpha"] = 0'
got=$(sc --adapter "$W/a0")
[ "$got" = "$base" ] && [ "$with" != "$base" ] && ok "B11 lora_alpha 0: loss $got = base $base (adapter at alpha 8: $with)" \
    || bad "B11 lora_alpha 0: loss $got, base $base, adapter at alpha 8: $with $(cat "$W/err")"
adapter a8 'c.pop("lora_alpha")'
got=$(sc --adapter "$W/a8")
[ "$got" = "$with" ] && ok "B11 no lora_alpha: PEFT's default 8: $got" || bad "B11 no lora_alpha: $got, want $with $(cat "$W/err")"

# P10: r 0 names the config field
adapter r0 'c["r"] = 0'
case_ "P10 r 0" 1 'r0/adapter_config.json: "r" must be >= 1, got 0' "$BONE" score --model m --data tok.jsonl --adapter r0

# P11: tensors outside target_modules / layers_to_transform are refused
adapter tq 'c["target_modules"] = ["q_proj"]'
case_ "P11 target_modules [q_proj], all seven present" 1 'lora_A.weight" is outside the modules' \
    "$BONE" score --model m --data tok.jsonl --adapter tq
adapter tre 'c["target_modules"] = ".*\\.(q_proj|v_proj)"'
case_ "P11 target_modules regex" 1 "is outside the modules adapter_config.json targets" \
    "$BONE" score --model m --data tok.jsonl --adapter tre
adapter tl0 'c["layers_to_transform"] = [0]'
case_ "P11 layers_to_transform [0]" 1 "model.layers.1." "$BONE" score --model m --data tok.jsonl --adapter tl0
adapter tok 'c["layers_to_transform"] = 2; t = {k: v for k, v in t.items() if ".layers.2." in k}'
case_ "P11 layers_to_transform 2 with layer-2 tensors only" 0 "" "$BONE" score --model m --data tok.jsonl --adapter tok
adapter tall 'c["target_modules"] = "all-linear"'
case_ "P11 all-linear" 0 "" "$BONE" score --model m --data tok.jsonl --adapter tall

# P12: targeted modules without weights are named in a warning
adapter nol3 't = {k: v for k, v in t.items() if ".layers.3." not in k}'
case_ "P12 layer 3 removed" 0 "targets 7 module(s) that" "$BONE" score --model m --data tok.jsonl --adapter nol3
grep -q "model.layers.3.self_attn.q_proj" "$W/err" || bad "P12: the first missing module is not named: $(cat "$W/err")"

# P13: modules_to_save and trained biases are refused, not ignored
adapter mts 'c["modules_to_save"] = ["lm_head"]'
case_ "P13 modules_to_save" 1 "modules_to_save is not supported" "$BONE" score --model m --data tok.jsonl --adapter mts
adapter ball 'c["bias"] = "all"'
case_ "P13 bias all" 1 'bias "all" is not supported' "$BONE" score --model m --data tok.jsonl --adapter ball
case_ "P13 bias all, merge" 1 'bias "all" is not supported' "$BONE" merge --model m --adapter ball --out mg

# ---- B13: an output that is one of the inputs is refused (exit 2) and the input is untouched
cp -r "$W/m" "$W/X"
sum0=$(md5sum <"$W/X/model.safetensors")
case_ "B13 merge --out = --model" 2 "--out X is the --model directory X" \
    "$BONE" merge --model X --adapter run0/adapter --out X
case_ "B13 merge --out = --model, other spelling" 2 "is the --model directory" \
    "$BONE" merge --model X --adapter run0/adapter --out ./X/
[ "$(md5sum <"$W/X/model.safetensors")" = "$sum0" ] && ok "B13 merge: base weights unchanged" || bad "B13 merge: base replaced"
cp "$W/run0/metrics.jsonl" "$W/metrics0"
case_ "B13 plot --out = RUN/metrics.jsonl" 2 "--out run0/metrics.jsonl is run0/metrics.jsonl, the metrics of the input RUN run0" \
    "$BONE" plot run0 --out run0/metrics.jsonl
case_ "B13 plot --out = a metrics.jsonl RUN" 2 "the metrics of the input RUN run0/metrics.jsonl" "$BONE" plot a=run0/metrics.jsonl --out ./run0/metrics.jsonl
cmp -s "$W/metrics0" "$W/run0/metrics.jsonl" && ok "B13 plot: metrics unchanged" || bad "B13 plot: metrics replaced"
cp "$W/g1.jsonl" "$W/g1.orig"
case_ "B13 eval gsm8k --out = --data" 2 "--out g1.jsonl is the same file as --data g1.jsonl" \
    "$BONE" eval gsm8k --model "$D" --data g1.jsonl --out g1.jsonl --max-new 4 --quiet
cmp -s "$W/g1.orig" "$W/g1.jsonl" && ok "B13 eval: data unchanged" || bad "B13 eval: data replaced"

# ---- B12 for eval gsm8k: NaN logits decode to some token, so the weights are checked first
cp -r "$D" "$W/D-nan"
poke "$W/D-nan" model.layers.0.self_attn.q_proj.weight 7 nan
case_ "B12 eval gsm8k, nan in q_proj" 1 "model.layers.0.self_attn.q_proj.weight[7] = nan" \
    "$BONE" eval gsm8k --model D-nan --data g1.jsonl --max-new 4 --quiet

# ---- B25, P31: plot skips non-finite points and says so; huge finite losses still draw;
# bare nan (older bone versions wrote it) is read; errors say file:line:column once
mkdir -p "$W/pl/huge" "$W/pl/infl" "$W/pl/nan" "$W/pl/bad"
printf '{"step": 1, "loss": 1e308}\n{"step": 2, "loss": -1e308}\n' >"$W/pl/huge/metrics.jsonl"
case_ "B25 plot losses of ±1e308" 0 "" "$BONE" plot pl/huge --out huge.svg
grep -qi nan "$W/huge.svg" && bad "B25 huge: NaN coordinates: $(grep -i nan "$W/huge.svg" | head -2)" \
    || ok "B25 huge: no NaN in the SVG"
printf '{"step": 1, "loss": 3.5}\n{"step": 2, "loss": 1e999}\n{"step": 3, "loss": 2.5, "eval_loss": 1e999}\n' \
    >"$W/pl/infl/metrics.jsonl"
case_ "B25 plot an infinite loss" 0 "skipped 2 non-finite point(s)" "$BONE" plot pl/infl --out inf.svg
grep -qiE "nan|inf<" "$W/inf.svg" && bad "B25 inf: non-finite in the SVG" || ok "B25 inf: nothing non-finite in the SVG"
printf '{"step": 1, "loss": 3.5, "lr": nan}\n\n{"step": 2, "loss": nan, "lr": -nan}\n{"step": 3, "loss": 2.5, "lr": inf}\n' \
    >"$W/pl/nan/metrics.jsonl"
case_ "P31 plot metrics with bare nan" 0 "skipped 1 non-finite point(s) (NaN or infinite loss or step; the first on line 3" \
    "$BONE" plot pl/nan --out nan.svg
printf '{"step": 1, "loss": 3.5}\n\n{"step": 2, "loss": }\n' >"$W/pl/bad/metrics.jsonl"
case_ "P31 plot error line:column not doubled" 1 "pl/bad/metrics.jsonl:3:21: malformed JSON" "$BONE" plot pl/bad --out bad.svg

# P8: an example longer than the model's positions is named by file and line before any batch
# runs (it used to fail inside a batch with "sequence length 300 exceeds ...", naming nothing)
python3 -c 'import json; print(json.dumps({"input_ids": list(range(1, 9))})); print(json.dumps({"input_ids": [5] * 300}))' \
    >"$W/long.jsonl"
case_ "P8 score names the over-long example's line" 1 "long.jsonl:2: 300 tokens exceed max_position_embeddings 256" \
    "$BONE" score --model m --data long.jsonl

t_end
