#!/usr/bin/env bash
# test_gguf_ref.sh — bone's GGUF files against tests/gguf/ref_gguf.py, which rebuilds every tensor
# with numpy the way llama.cpp's converter does (Q/K permute, F16, BF16, Q8_0, LoRA orientation,
# bone-free's exact LoRA form) and compares bytes; plus the export's refusals.
# Models: a tiny llama with attention biases (so permuted biases are checked), vocab 4100 >
# the tokenizer's 4096 ([PAD] tokens), an MLP of 80 (ffn_down rows not a multiple of 32: the
# Q8_0 → F16 fallback); a tiny qwen2 (q/k/v biases, no permutation); RWKV-6 (models/rwkv6 and a
# tiny one with the World vocabulary).
# usage: test_gguf_ref.sh BONE SOURCE_DIR PYTHON
set -u
BONE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
PY=${3:-/usr/bin/python3}
. "$SRC/tests/cli/lib.sh"
t_begin gguf-ref
export OMP_NUM_THREADS=1
awk 'BEGIN { srand(5); for (n = 0; n < 8; n++) { s = ""; for (t = 0; t < 24; t++) s = s (t ? "," : "") (32 + int(rand()*3000));
             print "{\"input_ids\":[" s "]}" } }' >"$W/ids.jsonl"
mk() { # NAME MODEL_TYPE EXTRA_JSON
    cat >"$W/$1.json" <<JSON
{"model_type": "$2", "vocab_size": 4100, "hidden_size": 64, "intermediate_size": 80, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": false, "initializer_range": 0.2, "eos_token_id": 4095 $3}
JSON
    run_ok "init $1" "$BONE" init --config "$W/$1.json" --out "$W/$1-init" --seed 4 || t_fatal
    cp "$SRC/models/default/tokenizer.json" "$SRC/models/default/tokenizer_config.json" "$W/$1-init/"
    # one full step at a high rate: biases (zero at init) become non-zero
    run_ok "full step $1" "$BONE" train --model "$W/$1-init" --method full --out "$W/$1-ft" --steps 1 \
        --data "$W/ids.jsonl" --batch 4 --lr 0.05 --quiet || t_fatal
}
mk llama llama ', "attention_bias": true'
mk qwen2 qwen2 ''
for m in llama qwen2; do
    M=$W/$m-ft/model
    for t in f32 f16 bf16 q8_0; do
        run_ok "export $m $t" "$BONE" export gguf --model "$M" --out "$W/$m-$t.gguf" --type $t || continue
        if "$PY" "$SRC/tests/gguf/ref_gguf.py" model "$M" "$W/$m-$t.gguf" $t >"$W/ref" 2>&1; then ok "$(sed "s/^ok //" "$W/ref")"
        else bad "$m $t: $(tail -c 600 "$W/ref")"; fi
    done
    for method in lora bone-free pissa; do
        run_ok "train $m $method" "$BONE" train --model "$M" --method $method --block 16 --rank 4 --out "$W/$m-$method" \
            --steps 2 --data "$W/ids.jsonl" --batch 4 --lr 1e-2 --quiet || continue
        run_ok "export $m $method" "$BONE" export gguf-lora --model "$M" --adapter "$W/$m-$method/adapter" \
            --out "$W/$m-$method.gguf" || continue
        if "$PY" "$SRC/tests/gguf/ref_gguf.py" lora "$M" "$W/$m-$method/adapter" "$W/$m-$method.gguf" >"$W/ref" 2>&1; then
            ok "$(sed "s/^ok //" "$W/ref")"
        else bad "$m $method: $(tail -c 600 "$W/ref")"; fi
    done
done
# RWKV-6: models/rwkv6 (bf16, trained) in each type and with each LoRA-form adapter; a tiny
# World-vocabulary RWKV-6 (every token checked against the vocabulary file's literals)
M=$SRC/models/rwkv6
for t in f32 f16 bf16 q8_0; do
    run_ok "export rwkv6 $t" "$BONE" export gguf --model "$M" --out "$W/rwkv6-$t.gguf" --type $t || continue
    if "$PY" "$SRC/tests/gguf/ref_gguf.py" model "$M" "$W/rwkv6-$t.gguf" $t >"$W/ref" 2>&1; then ok "$(sed "s/^ok //" "$W/ref")"
    else bad "rwkv6 $t: $(tail -c 600 "$W/ref")"; fi
done
for method in lora bone-free pissa; do
    run_ok "train rwkv6 $method" "$BONE" train --model "$M" --method $method --block 16 --rank 4 --out "$W/rwkv6-$method" \
        --steps 1 --data "$W/ids.jsonl" --batch 2 --lr 1e-2 --quiet || continue
    run_ok "export rwkv6 $method" "$BONE" export gguf-lora --model "$M" --adapter "$W/rwkv6-$method/adapter" \
        --out "$W/rwkv6-$method.gguf" || continue
    if "$PY" "$SRC/tests/gguf/ref_gguf.py" lora "$M" "$W/rwkv6-$method/adapter" "$W/rwkv6-$method.gguf" >"$W/ref" 2>&1; then
        ok "rwkv6 $(sed "s/^ok //" "$W/ref")"
    else bad "rwkv6 $method: $(tail -c 600 "$W/ref")"; fi
done
cat >"$W/rw.json" <<'JSON'
{"architectures": ["Rwkv6ForCausalLM"], "model_type": "rwkv6", "vocab_size": 65536, "hidden_size": 32,
 "attention_hidden_size": 32, "head_size": 16, "head_size_divisor": 8, "intermediate_size": 64,
 "num_hidden_layers": 1, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": false}
JSON
if run_ok "init rwkv6 world" "$BONE" init --config "$W/rw.json" --out "$W/rw" --seed 3; then
    cp "$SRC/data/rwkv-world/rwkv_vocab_v20230424.txt" "$W/rw/"
    if run_ok "export rwkv6 world" "$BONE" export gguf --model "$W/rw" --out "$W/rw.gguf"; then
        if "$PY" "$SRC/tests/gguf/ref_gguf.py" model "$W/rw" "$W/rw.gguf" f32 >"$W/ref" 2>&1; then ok "$(sed "s/^ok //" "$W/ref")"
        else bad "rwkv6 world: $(tail -c 600 "$W/ref")"; fi
    fi
fi
# refused: head_size_divisor 4, which llama.cpp's fixed GroupNorm eps (that of divisor 8) would run wrong
if [ -d "$W/rw" ]; then
    cp -r "$W/rw" "$W/rwdiv"
    sed -i 's/"head_size_divisor":[[:space:]]*8/"head_size_divisor": 4/' "$W/rwdiv/config.json"
    case_ "an RWKV-6 with head_size_divisor 4 is refused" 1 "head_size_divisor 4: llama.cpp's rwkv6 normalises" \
        "$BONE" export gguf --model "$W/rwdiv" --out "$W/rwdiv.gguf"
    [ -e "$W/rwdiv.gguf" ] && bad "a refused export left $W/rwdiv.gguf" || ok "the refused RWKV-6 export leaves no file"
fi
# refusals: a weight-guided Bone adapter as a LoRA; a tokenizer llama.cpp would split differently
M=$W/llama-ft/model
run_ok "train bone-col" "$BONE" train --model "$M" --method bone-col --block 16 --out "$W/bc" --steps 1 \
    --data "$W/ids.jsonl" --batch 4 --quiet
case_ "bone-col as gguf-lora is refused, pointing to the merged export" 1 "export the merged model instead" \
    "$BONE" export gguf-lora --model "$M" --adapter "$W/bc/adapter" --out "$W/bc.gguf"
[ -e "$W/bc.gguf" ] && bad "a refused export left $W/bc.gguf" || ok "a refused export leaves no file"
cp -r "$M" "$W/odd"
"$PY" - "$W/odd/tokenizer.json" <<'PY'
import json, sys
p = sys.argv[1]; t = json.load(open(p))
t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{L}+|\\p{N}{1,2}|\\s+|."
json.dump(t, open(p, "w"))
PY
case_ "an unknown split regex is refused" 1 "is none of those bone maps to llama.cpp" \
    "$BONE" export gguf --model "$W/odd" --out "$W/odd.gguf"
case_ "an unknown --type is a usage error" 2 "--type q4_0" "$BONE" export gguf --model "$M" --out x.gguf --type q4_0
case_ "q8_0 adapters are refused" 2 "llama.cpp refuses quantised adapters" \
    "$BONE" export gguf-lora --model "$M" --adapter "$W/bc/adapter" --out x.gguf --type q8_0
case_ "an unknown export format" 2 "unknown format" "$BONE" export onnx
t_end
