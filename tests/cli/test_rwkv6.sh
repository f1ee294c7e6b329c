#!/bin/bash
# test_rwkv6.sh — RWKV-6 through the real binary: the paper's trainable counts for the 1B6/3B/7B
# configs (lora r32 = bone-col b64) with --train-extra on its own line; then, on a tiny random
# RWKV-6 (bone init) with the default model's tokenizer: every method trains with --train-extra
# time,ln, the merged model scores as the model + adapter does, a resumed run repeats the
# uninterrupted one's losses and tensors, the NaN guard stops, and generate decodes.
# usage: test_rwkv6.sh BONE SOURCE_DIR
BONE=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
t_begin rwkv6

# ---- counts (issue 16: 33.0M / 55.1M / 88.1M, the RWKV-PEFT paper's table) ----
for pair in 1b6:33,030,144 3b:55,050,240 7b:88,080,384; do
    cfg=${pair%%:*} want=${pair#*:}
    for m in "lora --rank 32" "bone-col --block 64"; do
        run_ok "count $cfg $m" "$BONE" count --config "$SRC/configs/rwkv6-$cfg.json" --method $m --train-extra time,ln || continue
        contains "$W/out" "$want trainable parameters" "rwkv6-$cfg ${m%% *}: $want trainable"
        contains "$W/out" "more trained in full (--train-extra time,ln)" "rwkv6-$cfg ${m%% *}: --train-extra on its own line"
    done
done
case_ "count: unknown --train-extra group" 1 "unknown group" "$BONE" count --config "$SRC/configs/rwkv6-1b6.json" --method lora --train-extra tim
case_ "count: --train-extra on Llama" 1 "no extra parameter groups" "$BONE" count --config "$SRC/configs/tiny-llama.json" --method lora --train-extra ln
case_ "count: official target names" 0 "" "$BONE" count --config "$SRC/configs/rwkv6-1b6.json" --method lora --targets att.key,ffn.value
case_ "count: unknown target" 1 "feed_forward" "$BONE" count --config "$SRC/configs/rwkv6-1b6.json" --method lora --targets q_proj

# ---- a tiny RWKV-6 ----
cat >"$W/cfg.json" <<'J'
{"architectures": ["Rwkv6ForCausalLM"], "model_type": "rwkv6", "vocab_size": 4096, "hidden_size": 64,
 "attention_hidden_size": 64, "head_size": 16, "head_size_divisor": 8, "intermediate_size": null,
 "num_hidden_layers": 2, "layer_norm_epsilon": 1e-5, "num_attention_heads": 64,
 "tie_word_embeddings": false, "bos_token_id": 4095, "eos_token_id": 4095}
J
run_ok "init" "$BONE" init --config "$W/cfg.json" --out "$W/m" --seed 1 || t_fatal
cp "$SRC"/models/default/tokenizer.json "$SRC"/models/default/tokenizer_config.json "$W/m/"
head -12 "$SRC/data/gsm8k/train.jsonl" >"$W/d.jsonl"
TR=(--data "$W/d.jsonl" --template alpaca --max-len 200 --batch 2 --lr 1e-2 --quiet)
base=$("$BONE" score --model "$W/m" --data "$W/d.jsonl" --template alpaca --max-len 200 2>/dev/null | tail -1)
for me in bone-col bone-row bone-grid bone-hadamard bone-free lora pissa olora full; do
    extra=(--train-extra time,ln); [ $me = full ] && extra=()
    grid=(); [ $me = bone-grid ] && grid=(--grid 2x2)
    run_ok "train $me" "$BONE" train --model "$W/m" "${TR[@]}" --method $me --block 8 "${grid[@]}" --rank 4 \
        --out "$W/r-$me" --steps 2 "${extra[@]}" || continue
    if [ $me = full ]; then
        s=$("$BONE" score --model "$W/r-$me/model" --data "$W/d.jsonl" --template alpaca --max-len 200 2>/dev/null | tail -1)
        [ -n "$s" ] && [ "$s" != "$base" ] && ok "full: the trained model scores differently ($s)" || bad "full: score '$s' vs base '$base'"
        continue
    fi
    [ -s "$W/r-$me/adapter/train_extra.safetensors" ] && ok "$me: train_extra.safetensors written" || bad "$me: no train_extra.safetensors"
    s1=$("$BONE" score --model "$W/m" --adapter "$W/r-$me/adapter" --data "$W/d.jsonl" --template alpaca --max-len 200 2>/dev/null | tail -1)
    run_ok "merge $me" "$BONE" merge --model "$W/m" --adapter "$W/r-$me/adapter" --out "$W/r-$me/merged" || continue
    s2=$("$BONE" score --model "$W/r-$me/merged" --data "$W/d.jsonl" --template alpaca --max-len 200 2>/dev/null | tail -1)
    [ -n "$s1" ] && [ "$s1" = "$s2" ] && [ "$s1" != "$base" ] && ok "$me: merged scores as model + adapter ($s1)" \
        || bad "$me: adapter '$s1' merged '$s2' base '$base'"
done
contains "$W/r-lora/adapter/adapter_config.json" '"attention.receptance"' "PEFT adapter: explicit target_modules"

# ---- resume: 4 steps with a checkpoint at 2; cut back to step 2 and resume ----
run_ok "train 4 steps" "$BONE" train --model "$W/m" "${TR[@]}" --method bone-col --block 8 --out "$W/ra" --steps 4 \
    --save-every 2 --train-extra time,ln && {
    cp -r "$W/ra" "$W/rb"
    rm -rf "$W/rb/adapter" "$W/rb/checkpoints/step-00000004.safetensors"
    head -2 "$W/ra/metrics.jsonl" >"$W/rb/metrics.jsonl"
    run_ok "resume" "$BONE" train --model "$W/m" "${TR[@]}" --method bone-col --block 8 --out "$W/rb" --steps 4 \
        --save-every 2 --train-extra time,ln --resume && {
        la=$(grep -o '"loss": *[^,]*' "$W/ra/metrics.jsonl") lb=$(grep -o '"loss": *[^,]*' "$W/rb/metrics.jsonl")
        [ "$(echo "$la" | wc -l)" -eq 4 ] && [ "$la" = "$lb" ] && ok "resume: the same 4 losses as uninterrupted" ||
            bad "resume: losses differ: $la vs $lb"
        cmp -s "$W/ra/adapter/train_extra.safetensors" "$W/rb/adapter/train_extra.safetensors" &&
            cmp -s "$W/ra/adapter/adapter_model.safetensors" "$W/rb/adapter/adapter_model.safetensors" &&
            ok "resume: the same adapter and extra tensors" || bad "resume: tensors differ"
    }
}
# ---- SIGINT: finishes the step, writes a checkpoint, exits 130; --resume completes the run ----
"$BONE" train --model "$W/m" "${TR[@]}" --method lora --rank 4 --train-extra time,ln --out "$W/rs" --steps 60 \
    --save-every 1 >"$W/rs.out" 2>&1 &
pid=$!
for _ in $(seq 600); do ls "$W/rs/checkpoints/"step-*.safetensors >/dev/null 2>&1 && break; sleep 0.1; done
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
[ $rc -eq 130 ] && ok "SIGINT: exit 130" || bad "SIGINT: exit $rc: $(tail -c 300 "$W/rs.out")"
run_ok "resume after SIGINT" "$BONE" train --model "$W/m" "${TR[@]}" --method lora --rank 4 --train-extra time,ln \
    --out "$W/rs" --steps 60 --save-every 30 --resume && {
    n=$(wc -l <"$W/rs/metrics.jsonl")
    [ "$n" -eq 60 ] && [ -s "$W/rs/adapter/train_extra.safetensors" ] &&
        ok "resume after SIGINT: finished all 60 steps from the checkpoint" || bad "resume after SIGINT: $n metric lines"
}
case_ "NaN guard" 1 "the loss is NaN" "$BONE" train --model "$W/m" "${TR[@]}" --method lora --out "$W/rn" --steps 3 --debug-nan-step 2
case_ "--train-extra with full" 1 "does not apply to --method full" "$BONE" train --model "$W/m" "${TR[@]}" --method full --out "$W/rf" --steps 1 --train-extra ln
run_ok "generate" "$BONE" generate --model "$W/m" --adapter "$W/r-lora/adapter" --prompt "Hello" --max-new 8 --seed 1 &&
    ok "generate: decoded with the recurrent state"
# the evals decode prompts together (decode_batch.c through RWKV-6's decode_many); this crashed once
run_ok "eval arith" "$BONE" eval arith --model "$W/m" --adapter "$W/r-lora/adapter" --n 5 --max-new 8 --batch 3 --json &&
    contains "$W/out" '"samples": 5' "eval arith: 5 problems answered, batched"
run_ok "eval gsm8k" "$BONE" eval gsm8k --model "$W/m" --data "$SRC/data/gsm8k/test.jsonl" --limit 3 --max-new 8 --batch 3 --json &&
    contains "$W/out" '"samples": 3' "eval gsm8k: 3 questions answered, batched"
# ---- hostile configs and files (docs/bad-inputs.md, RWKV-6) ----
badcfg() { # NAME JSON-UPDATE NEEDLE
    python3 -c "import json,sys; c=json.load(open(sys.argv[1])); c.update(json.loads(sys.argv[2])); print(json.dumps(c))" \
        "$W/cfg.json" "$2" >"$W/bad-$1.json"
    case_ "config: $1" "${4:-1}" "$3" "$BONE" count --config "$W/bad-$1.json" --method lora
}
badcfg head-size '{"head_size": 12}' "must be in [1, 1024] and divide attention_hidden_size"
badcfg tied '{"tie_word_embeddings": true}' "never tied"
badcfg dim-att '{"attention_hidden_size": 32}' "dim_att != n_embd is not supported"
badcfg divisor '{"head_size_divisor": 0}' "head_size_divisor must be in [1, 1024]"
badcfg heads-ignored '{"num_attention_heads": 7}' "" 0
mkdir -p "$W/bad-layers" && cp "$W"/m/* "$W/bad-layers/" &&
    python3 -c "import json,sys; c=json.load(open(sys.argv[1])); c['num_hidden_layers']=1; json.dump(c,open(sys.argv[1],'w'))" "$W/bad-layers/config.json"
case_ "model: a tensor the config does not have" 1 'unexpected tensor "rwkv.blocks.1.' "$BONE" score --model "$W/bad-layers" --data "$W/d.jsonl" --template alpaca
mkdir -p "$W/bad-extra" && cp "$W"/r-lora/adapter/adapter_* "$W/bad-extra/" && cp "$W/m/model.safetensors" "$W/bad-extra/train_extra.safetensors"
case_ "adapter: train_extra.safetensors with a non-time/ln tensor" 1 "is not a time/ln tensor of this model" "$BONE" score --model "$W/m" --adapter "$W/bad-extra" --data "$W/d.jsonl" --template alpaca
"$BONE" help train 2>&1 | grep -q "default" && "$BONE" help train 2>&1 | grep -q "train-extra" && ok "help train documents --train-extra" || bad "help train"
t_end
