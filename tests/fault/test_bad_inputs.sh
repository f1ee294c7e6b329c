#!/usr/bin/env bash
# test_bad_inputs.sh — the bad-input table of docs/bad-inputs.md, run through the real binary:
# each case builds one broken file (model, config, data, tokenizer, adapter, checkpoint,
# llama2.c import) or command line, runs bone, and checks the exit status and the key part
# of the message the user sees. With BONE_BAD_INPUTS_OUT=FILE it also writes "case<TAB>exit<TAB>
# message" lines (temporary paths shown as W/) from which the table's messages are copied.
# usage: test_bad_inputs.sh BONE SOURCE_DIR
set -u
BONE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
W=$(mktemp -d /tmp/bone-bad.XXXXXX)
trap 'rm -rf "$W"' EXIT
OUTF=${BONE_BAD_INPUTS_OUT:-/dev/null}
: >"$OUTF"
pass=0
fail=0
# case NAME EXIT NEEDLE command... : runs the command, checks exit status and message
case_() {
    local name=$1 want=$2 needle=$3
    shift 3
    (cd "$W" && "$@") >"$W/out" 2>"$W/err"
    local rc=$?
    local msg
    msg=$(sed "s#$W/#W/#g; s#$W#W#g" "$W/err" | tr '\n' ' ' | sed 's/ *$//')
    printf '%s\t%s\t%s\n' "$name" "$rc" "$msg" >>"$OUTF"
    if [ "$rc" -eq "$want" ] && grep -qF -- "$needle" "$W/err"; then
        pass=$((pass + 1)); echo "ok   $name: $msg"
    else
        fail=$((fail + 1)); echo "FAIL $name: exit $rc (want $want), wanted \"$needle\" in: $msg"
    fi
}
st() { # st FILE HEADER [DATA_BYTES [DECLARED_LEN]] : a safetensors file with that header and zero data
    python3 - "$@" <<'PY'
import struct, sys
path, hdr = sys.argv[1], sys.argv[2].encode()
nd = int(sys.argv[3]) if len(sys.argv) > 3 else 0
decl = int(sys.argv[4]) if len(sys.argv) > 4 else len(hdr)
open(path, "wb").write(struct.pack("<Q", decl) + hdr + b"\0" * nd)
PY
}
cfg() { # cfg FILE EXTRA_JSON_FIELDS : a tiny llama config.json with fields added/overridden
    python3 - "$@" <<'PY'
import json, sys
c = {"model_type": "llama", "vocab_size": 300, "hidden_size": 32, "intermediate_size": 64,
     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 64,
     "bos_token_id": 1, "eos_token_id": 2}
c.update(json.loads(sys.argv[2]))
open(sys.argv[1], "w").write(json.dumps(c))
PY
}

# ---- a good tiny model with a SentencePiece-style tokenizer, and good data
cfg "$W/tiny.json" '{}'
"$BONE" init --config "$W/tiny.json" --out "$W/m" --seed 1 >/dev/null || { echo "FAIL init"; exit 1; }
python3 - "$W/m" <<'PY'
import json, sys
v = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256): v["<0x%02X>" % b] = 3 + b
for i, w in enumerate(["\u2581", "\u2581t", "h", "e", "he", "t"]): v[w] = 259 + i
tok = {"version": "1.0",
       "added_tokens": [{"id": i, "content": c, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
       "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                      {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
       "pre_tokenizer": None,
       "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                          {"Sequence": {"id": "A", "type_id": 0}}],
                          "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
       "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                   {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
       "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "vocab": v, "merges": ["\u2581 t", "h e"]}}
json.dump(tok, open(sys.argv[1] + "/tokenizer.json", "w"))
json.dump({"bos_token": "<s>", "eos_token": "</s>"}, open(sys.argv[1] + "/tokenizer_config.json", "w"))
PY
printf '{"input_ids":[1,5,6,7,8]}\n{"input_ids":[1,9,10]}\n' >"$W/good.jsonl"
"$BONE" score --model "$W/m" --data "$W/good.jsonl" >/dev/null 2>&1 || { echo "FAIL the good model does not score"; exit 1; }
score() { "$BONE" score --model "$1" --data "${2:-$W/good.jsonl}" "${@:3}"; }
broken_model() { # broken_model NAME : a copy of the good model dir to break
    rm -rf "$W/$1"; mkdir -p "$W/$1"; cp "$W/m/config.json" "$W/m/tokenizer.json" "$W/m/tokenizer_config.json" "$W/$1/"
}

# ---- model weights (model.safetensors)
broken_model t1; printf '\x10\0\0\0\0' >"$W/t1/model.safetensors"
case_ st-truncated 1 "need at least 8" score "$W/t1"
broken_model t2; st "$W/t2/model.safetensors" '{}' 0 4096
case_ st-header-past-end 1 "runs past the end of the file" score "$W/t2"
broken_model t3; st "$W/t3/model.safetensors" '{}' 0 200000000
case_ st-header-too-large 1 "exceeds the 100,000,000-byte limit" score "$W/t3"
broken_model t4; st "$W/t4/model.safetensors" '[1,2]   '
case_ st-header-not-object 1 "header is not a JSON object" score "$W/t4"
broken_model t5; st "$W/t5/model.safetensors" '{"a":  '
case_ st-header-bad-json 1 "malformed JSON" score "$W/t5"
broken_model t6; python3 -c "import struct,sys; h=b'{\"\xff\":{}}   '; open(sys.argv[1],'wb').write(struct.pack('<Q',len(h))+h)" "$W/t6/model.safetensors"
case_ st-header-bad-utf8 1 "invalid UTF-8 at byte offset" score "$W/t6"
broken_model t7; st "$W/t7/model.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}' 20
case_ st-gap 1 "a gap" score "$W/t7"
broken_model t8; st "$W/t8/model.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
case_ st-overlap 1 "overlapping tensors" score "$W/t8"
broken_model t9; st "$W/t9/model.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' 12
case_ st-trailing-bytes 1 "trailing bytes" score "$W/t9"
broken_model t10; st "$W/t10/model.safetensors" '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}' 8
case_ st-size-mismatch 1 "needs 12 bytes but data_offsets span 8" score "$W/t10"
broken_model t11; st "$W/t11/model.safetensors" '{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}' 8
case_ st-unknown-dtype 1 'unknown dtype "F33"' score "$W/t11"
broken_model t12; st "$W/t12/model.safetensors" '{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}' 8
case_ st-negative-shape 1 "shape entries must be integers >= 0" score "$W/t12"
broken_model t13; st "$W/t13/model.safetensors" '{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}' 8
case_ st-shape-overflow 1 "shape product overflows" score "$W/t13"
broken_model t14; st "$W/t14/model.safetensors" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}' 8
case_ st-duplicate-name 1 'duplicate key "a"' score "$W/t14"
broken_model t15; st "$W/t15/model.safetensors" '{"__metadata__":{"format":1}}'
case_ st-metadata-not-string 1 "must be a string" score "$W/t15"
broken_model t16; st "$W/t16/model.safetensors" '{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}' 8
case_ st-begin-after-end 1 "data_offsets begin 8 > end 0" score "$W/t16"
broken_model t17; python3 - "$W/m/model.safetensors" "$W/t17/model.safetensors" <<'PY'
import sys
b = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(b[:len(b) - 1000])
PY
case_ st-file-cut-short 1 "past the data area" score "$W/t17"
broken_model t22; python3 - "$W/m/model.safetensors" "$W/t22/model.safetensors" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
open(sys.argv[2], "wb").write(struct.pack("<Q", n + 1) + b[8:8 + n] + b" " + b[8 + n:])
PY
case_ st-misaligned 1 "not a multiple of its 4-byte elements" score "$W/t22"
broken_model t18; cp "$W/m/model.safetensors" "$W/t18/"; cfg "$W/t18/config.json" '{"num_hidden_layers": 2}'
case_ weights-missing-tensor 1 'missing tensor "model.layers.1' score "$W/t18"
broken_model t19; cp "$W/m/model.safetensors" "$W/t19/"; cfg "$W/t19/config.json" '{"intermediate_size": 48}'
case_ weights-wrong-shape 1 "expected [48, 32] from config.json" score "$W/t19"
broken_model t20; echo '{"weight_map":{"model.embed_tokens.weight":"model-00001-of-00002.safetensors"}}' >"$W/t20/model.safetensors.index.json"
case_ shard-missing 1 "model-00001-of-00002.safetensors: cannot open: No such file or directory" score "$W/t20"
broken_model t21; echo '{"weight_map":{"model.embed_tokens.weight":"../m/model.safetensors"}}' >"$W/t21/model.safetensors.index.json"
case_ shard-path-escape 1 "is not a plain file name" score "$W/t21"
mkdir -p "$W/empty"
case_ model-dir-empty 1 "empty/config.json: cannot open: No such file or directory" score "$W/empty"
cp "$W/m/config.json" "$W/empty/"
case_ model-no-weights 1 "no model.safetensors or model.safetensors.index.json" score "$W/empty"
rm "$W/empty/config.json"

# ---- config.json (bone count reads only the config)
count() { "$BONE" count --config "$1" --method lora; }
cfg "$W/c1.json" '{"model_type": "gpt2"}'
case_ config-model-type 1 'model_type "gpt2" is not supported' count "$W/c1.json"
python3 -c 'import json; json.dump({"model_type":"llama","hidden_size":16}, open("'"$W"'/c2.json","w"))'
case_ config-missing-field 1 'missing field "vocab_size"' count "$W/c2.json"
cfg "$W/c3.json" '{"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}'
case_ config-rope-yarn 1 'rope_scaling type "yarn" is not supported' count "$W/c3.json"
cfg "$W/c4.json" '{"model_type": "mistral", "sliding_window": 16, "max_position_embeddings": 64}'
case_ config-sliding-window 1 "sliding-window attention is not supported" count "$W/c4.json"
cfg "$W/c5.json" '{"num_key_value_heads": 3}'
case_ config-kv-heads 1 "must be positive and divide num_attention_heads" count "$W/c5.json"
cfg "$W/c6.json" '{"hidden_act": "gelu"}'
case_ config-hidden-act 1 'hidden_act "gelu" is not supported (only silu)' count "$W/c6.json"
cfg "$W/c7.json" '{"vocab_size": -4}'
case_ config-negative 1 'field "vocab_size" must be a positive integer, got -4' count "$W/c7.json"
cfg "$W/c8.json" '{"hidden_size": 1.5}'
case_ config-not-integer 1 'field "hidden_size" must be an integer' count "$W/c8.json"
printf '{"model_type":"llama","vocab_size":4,"vocab_size":5}' >"$W/c9.json"
case_ config-duplicate-key 1 'duplicate key "vocab_size"' count "$W/c9.json"
cfg "$W/c10.json" '{"num_hidden_layers": 9555555555}'
case_ config-too-large 1 "is larger than bone supports" count "$W/c10.json"
cfg "$W/c11.json" '{"architectures": ["LlamaForSequenceClassification"]}'
case_ config-architectures 1 "only LlamaForCausalLM is supported" count "$W/c11.json"
printf '{"model_type":"llama"} x' >"$W/c12.json"
case_ config-trailing-text 1 "unexpected text after the JSON value" count "$W/c12.json"
printf '{"model_type":"llama",\n "vocab_size": 12,,\n}' >"$W/c13.json"
case_ config-malformed 1 "c13.json:2:20: malformed JSON" count "$W/c13.json"

# ---- pre-tokenized data
printf '{"input_ids":[1,2,3]}\n{"input_ids":[1,2,\n' >"$W/d1.jsonl"
case_ data-malformed-line 1 "d1.jsonl:2:18: malformed JSON" score "$W/m" "$W/d1.jsonl"
printf '{"ids":[1,2,3]}\n' >"$W/d2.jsonl"
case_ data-tokens-missing-field 1 'fields present: "ids"' score "$W/m" "$W/d2.jsonl" --format tokens
printf '{"input_ids":[1,2,3000]}\n' >"$W/d3.jsonl"
case_ data-id-outside-vocab 1 "input_ids[2] = 3000 is outside the vocabulary [0, 300)" score "$W/m" "$W/d3.jsonl"
printf '{"input_ids":[1,2,3],"labels":[1,2]}\n' >"$W/d4.jsonl"
case_ data-labels-length 1 '"labels" has 2 entries but "input_ids" has 3' score "$W/m" "$W/d4.jsonl"
printf '{"input_ids":[1,2,3],"labels":[-100,2,-5]}\n' >"$W/d5.jsonl"
case_ data-bad-label 1 "labels[2] = -5 is outside the vocabulary [0, 300) and is not -100" score "$W/m" "$W/d5.jsonl"
printf '{"input_ids":[]}\n' >"$W/d6.jsonl"
case_ data-empty-example 1 '"input_ids" is empty' score "$W/m" "$W/d6.jsonl"
: >"$W/d7.jsonl"
case_ data-empty-file 1 "the data set is empty" score "$W/m" "$W/d7.jsonl"
printf '{"input_ids":[1,2,3.5]}\n' >"$W/d8.jsonl"
case_ data-not-integer 1 "input_ids[2] is not an integer" score "$W/m" "$W/d8.jsonl"
case_ data-missing-file 1 "cannot open" score "$W/m" "$W/nope.jsonl"
printf '{"input_ids":[1,2,3,4,5,6,7,8,9,10,11,12]}\n' >"$W/d9.jsonl"
case_ data-max-len-error 1 "12 tokens exceed --max-len 8 (policy: error)" "$BONE" train --model "$W/m" --data "$W/d9.jsonl" \
    --method lora --steps 1 --out "$W/ml" --max-len 8 --max-len-policy error

# ---- instruction / chat data (tokenized with the model's tokenizer)
printf '{"question":"q","answer":"a"}\n{"question":"caf\xe9","answer":"a"}\n' >"$W/i1.jsonl"
case_ text-bad-utf8 1 "i1.jsonl:2:17: invalid UTF-8 (byte 0xE9 at byte offset 46)" score "$W/m" "$W/i1.jsonl"
printf '{"question":"q","answer":"a"}\n{"question":"q"}\n' >"$W/i2.jsonl"
case_ text-missing-field 1 'i2.jsonl:2: missing field "answer" (fields present: "question")' score "$W/m" "$W/i2.jsonl"
printf '{"prompt":"q","completion":"a"}\n' >"$W/i3.jsonl"
case_ text-unknown-format 1 "cannot tell the data format from the fields present" score "$W/m" "$W/i3.jsonl"
printf '{"messages":[{"role":"user","content":"hi"}]}\n' >"$W/i4.jsonl"
case_ chat-no-assistant 1 "the conversation has no assistant message to train on" score "$W/m" "$W/i4.jsonl" --template raw
printf '{"messages":[{"role":"user","content":"hi"},{"role":"bot","content":"yo"}]}\n' >"$W/i5.jsonl"
case_ chat-bad-role 1 'messages[1].role is "bot"; expected system, user or assistant' score "$W/m" "$W/i5.jsonl" --template raw
printf '{"messages":[{"role":"assistant","content":"hi"},{"role":"user","content":"yo"}]}\n' >"$W/i6.jsonl"
case_ chat-llama2-order 1 "the llama2 template needs user and assistant messages to alternate" score "$W/m" "$W/i6.jsonl" --template llama2
printf '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n' >"$W/i7.jsonl"
case_ chat-no-template 1 "chat data needs a template: the tokenizer has no chat_template" score "$W/m" "$W/i7.jsonl"
case_ chat-template-token-missing 1 "template chatml needs the token <|im_start|>, which the tokenizer does not have" score "$W/m" "$W/i7.jsonl" --template chatml
printf 'Q: {question} {nope}\nA: {answer}' >"$W/tmpl.txt"
printf '{"question":"q","answer":"a"}\n' >"$W/i8.jsonl"
case_ template-unknown-placeholder 1 "placeholder {nope} is not a field of the record" score "$W/m" "$W/i8.jsonl" --template "$W/tmpl.txt"
case_ template-unknown-name 1 'unknown template "chatgpt"' score "$W/m" "$W/i8.jsonl" --template chatgpt
printf '[{"question":"q","answer":"a"},{"question":1,"answer":"a"}]' >"$W/i9.json"
case_ text-field-not-string 1 'element 2: field "question" must be a string' score "$W/m" "$W/i9.json"

# ---- tokenizers (bone tokenize)
tokj() { # tokj DIR PYTHON_EXPR_MODIFYING_t : the good tokenizer.json, modified
    mkdir -p "$1"; python3 - "$W/m/tokenizer.json" "$1/tokenizer.json" "$2" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(t, open(sys.argv[2], "w"))
PY
}
tok() { "$BONE" tokenize --tokenizer "$1" --text "${2:-the hat}"; }
tokj "$W/k1" 't["model"]["type"] = "Unigram"'
case_ tok-model-type 1 'model type "Unigram" is not supported (bone supports BPE)' tok "$W/k1"
tokj "$W/k2" 't["model"]["merges"].append("x y")'
case_ tok-merge-unknown 1 'merge 2 "x" + "y": the left token is not in the vocabulary' tok "$W/k2"
tokj "$W/k3" 't["normalizer"] = {"type": "Lowercase"}'
case_ tok-normalizer 1 'unsupported normalizer type "Lowercase"' tok "$W/k3"
tokj "$W/k4" 't["pre_tokenizer"] = {"type": "Metaspace", "replacement": ""}'
case_ tok-metaspace-empty 1 "Metaspace pre-tokenizer with an empty replacement" tok "$W/k4"
tokj "$W/k5" 't["model"]["vocab"]["big"] = 2000000000'
case_ tok-huge-id 1 'vocab entry "big" has a bad id (an integer in [0, 16777215] expected)' tok "$W/k5"
tokj "$W/k6" 't["model"]["vocab"]["dup"] = 5'
case_ tok-duplicate-id 1 "is used twice" tok "$W/k6"
tokj "$W/k7" 't["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}'
case_ tok-bad-regex 1 "cannot compile regex /(a/" tok "$W/k7"
mkdir -p "$W/k8"; cp "$W/m/tokenizer.json" "$W/k8/"; echo '{"eos_token": "<|eot|>"}' >"$W/k8/tokenizer_config.json"
case_ tok-config-eos-unknown 1 'eos_token "<|eot|>" is not in the vocabulary' tok "$W/k8"
case_ tok-invalid-utf8-text 1 "invalid UTF-8" tok "$W/m" $'caf\xe9'
case_ tok-missing 1 "no tokenizer.json, vocab.json+merges.txt, encoder.json+vocab.bpe or tokenizer.bin" tok "$W/empty"
printf '\x10\0\0\0\0\0\0\0\x05\0\0\0ab' >"$W/bad.bin"
case_ tok-llama2c-truncated 1 "entry 0 at byte 4 has a bad length 5" tok "$W/bad.bin"
python3 -c "
import struct; out = struct.pack('<i', 4)
for i in range(10): out += struct.pack('<fi', 0.0, 1) + b'a'
open('$W/short.bin', 'wb').write(out)"
case_ tok-llama2c-too-few 1 "only 10 entries (need <unk>, <s>, </s> and 256 byte pieces)" tok "$W/short.bin"

# ---- adapters (bone score --adapter / bone merge)
"$BONE" train --model "$W/m" --data "$W/good.jsonl" --method lora --rank 2 --steps 1 --batch 1 --out "$W/run" --quiet \
    >/dev/null 2>&1 || { echo "FAIL training the adapter fixture"; exit 1; }
adapter() { # adapter NAME PYTHON_EXPR_MODIFYING_c : a copy of the trained adapter with its config modified
    mkdir -p "$W/$1"; cp "$W/run/adapter/adapter_model.safetensors" "$W/$1/"
    python3 - "$W/run/adapter/adapter_config.json" "$W/$1/adapter_config.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
}
ascore() { score "$W/m" "$W/good.jsonl" --adapter "$1"; }
adapter a1 'c["peft_type"] = "IA3"'
case_ adapter-peft-type 1 'peft_type "IA3" is not supported (LORA, BONE or MISS)' ascore "$W/a1"
adapter a2 'c["use_dora"] = True'
case_ adapter-dora 1 "DoRA adapters (use_dora) are not supported" ascore "$W/a2"
adapter a3 'c["r"] = 4'
case_ adapter-rank-mismatch 1 "with lora r=4 needs [4, 32]" ascore "$W/a3"
adapter a4 'c["init_lora_weights"] = "pissa"'
case_ adapter-pissa-residual 1 'init_lora_weights "pissa": this adapter is only valid against the residual base' ascore "$W/a4"
adapter a5 'c["fan_in_fan_out"] = True'
case_ adapter-fan-in-fan-out 1 "fan_in_fan_out adapters are not supported" ascore "$W/a5"
adapter a6 'c["peft_type"] = "MISS"; c["init_weights"] = "mini"'
case_ adapter-miss-mini 1 'init_weights "mini" is not supported' ascore "$W/a6"
mkdir -p "$W/a7"; cp "$W/run/adapter/adapter_config.json" "$W/a7/"
case_ adapter-missing-weights 1 "adapter_model.safetensors: cannot open: No such file or directory" ascore "$W/a7"
mkdir -p "$W/a8"; cp "$W/run/adapter/adapter_model.safetensors" "$W/a8/"
case_ adapter-missing-config 1 "adapter_config.json: cannot open: No such file or directory" ascore "$W/a8"
mkdir -p "$W/a9"; cp "$W/run/adapter/adapter_config.json" "$W/a9/"
st "$W/a9/adapter_model.safetensors" '{"base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight":{"dtype":"F32","shape":[2,32],"data_offsets":[0,256]}}' 256
case_ adapter-unknown-module 1 'names module "model.layers.7.self_attn.q_proj", which this model does not have' ascore "$W/a9"
mkdir -p "$W/a10"; cp "$W/run/adapter/adapter_config.json" "$W/a10/"
st "$W/a10/adapter_model.safetensors" '{"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight":{"dtype":"F32","shape":[2,32],"data_offsets":[0,256]}}' 256
case_ adapter-half-pair 1 "has only one of lora_A / lora_B" ascore "$W/a10"

# ---- checkpoints and resume
TARGS=(--model "$W/m" --data "$W/good.jsonl" --method lora --rank 2 --steps 4 --batch 1 --save-every 1 --keep 3 --quiet)
"$BONE" train "${TARGS[@]}" --out "$W/r" >/dev/null 2>&1 || bad "checkpoint fixture"
case_ resume-existing-dir 1 "already holds a run" "$BONE" train "${TARGS[@]}" --out "$W/r"
case_ resume-changed-setting 1 "this run was started with lr = " "$BONE" train "${TARGS[@]}" --out "$W/r" --resume --lr 0.5
# (a corrupted newest checkpoint is tests/cli/test_resume.sh's case)
case_ resume-nothing 1 "no usable checkpoint" "$BONE" train "${TARGS[@]}" --out "$W/fresh" --resume
case_ train-nan 1 "step 2: the loss is NaN" "$BONE" train "${TARGS[@]}" --out "$W/nan" --debug-nan-step 2

# ---- llama2.c imports (bone convert)
if "$BONE" help convert >/dev/null 2>&1; then
    python3 -c "import struct; open('$W/l1.bin','wb').write(struct.pack('<7i', 8, 16, 1, 2, 1, 5, 4) + b'\0' * 100)"
    case_ l2c-size 1 "must be exactly" "$BONE" convert llama2c "$W/l1.bin" --out "$W/l1"
    python3 -c "import struct; open('$W/l2.bin','wb').write(struct.pack('<Ii7iB', 0x616B3432, 2, 8, 16, 1, 2, 1, 5, 4, 1) + b'\0' * 219)"
    case_ l2c-int8 1 "version 2 (int8 Q8_0) checkpoints are not supported" "$BONE" convert llama2c "$W/l2.bin" --out "$W/l2"
    python3 -c "import struct; open('$W/l3.bin','wb').write(struct.pack('<7i', 8, 16, 1, 3, 1, 5, 4))"
    case_ l2c-heads 1 "dim 8 is not a multiple of n_heads 3" "$BONE" convert llama2c "$W/l3.bin" --out "$W/l3"
fi

# ---- command line
case_ cli-unknown-option 2 "unknown option" "$BONE" score --model "$W/m" --data "$W/good.jsonl" --bogus
case_ cli-unknown-method 2 "dora" "$BONE" train --model "$W/m" --data "$W/good.jsonl" --out "$W/x" --method dora
case_ cli-bad-integer 2 "abc" "$BONE" init --config "$W/tiny.json" --out "$W/y" --seed abc

echo "bad inputs: $pass passed, $fail failed"
[ $fail -eq 0 ]
