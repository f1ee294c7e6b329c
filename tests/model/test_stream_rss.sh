#!/usr/bin/env bash
# test_stream_rss.sh — init and merge stream tensor by tensor: the peak RSS of `bone init` and
# `bone merge` on a 33M-parameter Llama (133 MB in fp32, largest tensor 16 MB; a 61M-parameter
# RWKV-6 below, through the same writer) stays near one
# fp32 tensor plus a fixed margin, far below the whole model that the old writers held (init
# drew every tensor before writing; merge kept an fp32 copy of each merged weight, and the
# mapped base pages it read). Peak RSS is the child's ru_maxrss (getrusage), read by Python.
# The bound is loose against machine noise (a fixed 64 MiB for the binary, OpenBLAS, the write
# buffer and the one mapped tensor in flight) and tight against the old behaviour (≥ 133 MiB).
# usage: test_stream_rss.sh BONE
set -u
BONE=$1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
W=$(mktemp -d /tmp/bone-rss.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# dim 512, 8 layers, ffn 1376, vocab 8000 (untied): embed and lm_head 4.1M each, a layer 3.2M
cat >"$W/cfg.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 8000, "hidden_size": 512,
 "intermediate_size": 1376, "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 8,
 "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
 "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2, "initializer_range": 0.02}
JSON
LARGEST=$((8000 * 512 * 4))                               # bytes of the largest tensor in fp32
TOTAL=$(( (2 * 8000 * 512 + 512 + 8 * (4 * 512 * 512 + 3 * 512 * 1376 + 2 * 512)) * 4 ))
LIMIT=$((LARGEST + 64 * 1048576))
# peak RSS (bytes) of a command, from the kernel's accounting of the finished child
peak() {
    "$PY" -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 if r.returncode == 0 else -1)' "$@"
}
echo "model: $((TOTAL / 1048576)) MiB in fp32, largest tensor $((LARGEST / 1048576)) MiB; limit $((LIMIT / 1048576)) MiB"
for dt in f32 bf16; do
    p=$(peak "$BONE" init --config "$W/cfg.json" --out "$W/m-$dt" --seed 1 --dtype $dt)
    [ "$p" -gt 0 ] && [ "$p" -le "$LIMIT" ] && ok "init $dt: peak RSS $((p / 1048576)) MiB <= $((LIMIT / 1048576)) MiB" \
        || bad "init $dt: peak RSS $((p / 1048576)) MiB (limit $((LIMIT / 1048576)) MiB; -1 = failed)"
done
# an adapter on every linear (lora, and bone-col whose W' is a full fp32 weight per linear)
awk 'BEGIN { srand(4); for (n = 0; n < 2; n++) { s = ""; for (t = 0; t < 16; t++) s = s (t ? "," : "") (3 + int(rand()*7000));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
for spec in "lora --rank 8" "bone-col --block 32"; do
    set -- $spec
    m=$1
    shift
    "$BONE" train --model "$W/m-bf16" --data "$W/data.jsonl" --method "$m" "$@" --steps 1 --lr 1e-2 --out "$W/r-$m" \
        --quiet >/dev/null 2>"$W/err" || bad "train $m: $(cat "$W/err")"
    p=$(peak "$BONE" merge --model "$W/m-bf16" --adapter "$W/r-$m/adapter" --out "$W/merged-$m")
    [ "$p" -gt 0 ] && [ "$p" -le "$LIMIT" ] && ok "merge $m: peak RSS $((p / 1048576)) MiB <= $((LIMIT / 1048576)) MiB" \
        || bad "merge $m: peak RSS $((p / 1048576)) MiB (limit $((LIMIT / 1048576)) MiB; -1 = failed)"
done

# ---- RWKV-6 through the same writer (arch.h save_walk/init_walk) ----
# vocab 16384, C 1024, 2 layers, F 3584: embeddings and head 16.8M each (64 MiB in fp32, the
# largest), a layer 13.6M; 232 MiB in fp32 in all. The old RWKV-6 writers held the whole model in
# fp32 (init drew every tensor first; a save converted every tensor, a merge kept each merged
# weight) before writing.
cat >"$W/rcfg.json" <<'JSON'
{"architectures": ["Rwkv6ForCausalLM"], "model_type": "rwkv6", "vocab_size": 16384, "hidden_size": 1024,
 "attention_hidden_size": 1024, "head_size": 64, "head_size_divisor": 8, "intermediate_size": null,
 "num_hidden_layers": 2, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": false, "bos_token_id": 0,
 "eos_token_id": 0}
JSON
RLARGEST=$((16384 * 1024 * 4))
RLIMIT=$((RLARGEST + 64 * 1048576))
echo "rwkv6 model: 232 MiB in fp32, largest tensor $((RLARGEST / 1048576)) MiB; limit $((RLIMIT / 1048576)) MiB"
p=$(peak "$BONE" init --config "$W/rcfg.json" --out "$W/rw" --seed 1 --dtype bf16)
[ "$p" -gt 0 ] && [ "$p" -le "$RLIMIT" ] && ok "rwkv6 init bf16: peak RSS $((p / 1048576)) MiB <= $((RLIMIT / 1048576)) MiB" \
    || bad "rwkv6 init bf16: peak RSS $((p / 1048576)) MiB (limit $((RLIMIT / 1048576)) MiB; -1 = failed)"
awk 'BEGIN { srand(5); for (n = 0; n < 2; n++) { s = ""; for (t = 0; t < 16; t++) s = s (t ? "," : "") (1 + int(rand()*16000));
             print "{\"input_ids\":[" s "]}" } }' >"$W/rdata.jsonl"
# the adapter's own memory (its fp32 values, their gradients and its mapped file) comes on top of
# the writer's: bone-col at block 16 keeps it at ~3 MiB (block 64 would be 11 MiB, held ~3 times)
for spec in "lora --rank 8" "bone-col --block 16"; do
    set -- $spec
    m=$1
    shift
    "$BONE" train --model "$W/rw" --data "$W/rdata.jsonl" --method "$m" "$@" --steps 1 --lr 1e-2 --out "$W/rr-$m" \
        --train-extra time,ln --quiet >/dev/null 2>"$W/err" || bad "rwkv6 train $m: $(cat "$W/err")"
    p=$(peak "$BONE" merge --model "$W/rw" --adapter "$W/rr-$m/adapter" --out "$W/rmerged-$m")
    [ "$p" -gt 0 ] && [ "$p" -le "$RLIMIT" ] && ok "rwkv6 merge $m: peak RSS $((p / 1048576)) MiB <= $((RLIMIT / 1048576)) MiB" \
        || bad "rwkv6 merge $m: peak RSS $((p / 1048576)) MiB (limit $((RLIMIT / 1048576)) MiB; -1 = failed)"
    rm -rf "$W/rmerged-$m" "$W/rr-$m"
done
echo "streaming RSS tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
