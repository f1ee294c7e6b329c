#!/bin/sh
# cli_count.sh BONE — `bone count` on a LLaMA2-7B config.json written here: the paper's numbers.
set -u
BONE=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cat > "$d/config.json" <<'JSON'
{"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":32000,"hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":32,"hidden_act":"silu","max_position_embeddings":4096,"rms_norm_eps":1e-05,"tie_word_embeddings":false,"torch_dtype":"float16"}
JSON
fail=0
check() { # want args...
    want=$1; shift
    got=$("$BONE" count --config "$d/config.json" "$@" --json) || { echo "FAIL: bone count $* exited $?"; fail=1; return; }
    case "$got" in *"\"trainable\": $want}"*) echo "ok   $* -> $want";; *) echo "FAIL $*: $got (want $want)"; fail=1;; esac
}
check 87031808 --method bone-col --block 64
check 89948160 --method lora --rank 36
check 72876032 --method bone-row --block 64
check 21757952 --method bone-col --block 16
check 43515904 --method bone-col --block 32
check 174063616 --method bone-col --block 128
check 6738415616 --method full
out=$("$BONE" count --config "$d" --method bone-col --block 64) && [ "$out" = "87,031,808 trainable parameters (bone-col)" ] || { echo "FAIL human format: $out"; fail=1; }
err=$("$BONE" count --config "$d/config.json" --method bone-col --block 48 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "model.layers.0.self_attn.q_proj" || { echo "FAIL block 48: rc $rc: $err"; fail=1; }
err=$("$BONE" count --config "$d/config.json" --method bone-col --targets q_proj,nope 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "gate_proj" || { echo "FAIL unknown target: rc $rc: $err"; fail=1; }
"$BONE" count --config "$d/config.json" --method bone-cool >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || { echo "FAIL unknown method should be a usage error (2), got $rc"; fail=1; }
exit $fail
