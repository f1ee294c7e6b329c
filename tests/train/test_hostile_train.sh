#!/usr/bin/env bash
# test_hostile_train.sh — `bone train` under hostile and careless use (the B/P rows of
# the hostile-use review of 2026-12 that concern training): out-of-range flags are
# usage errors naming the flag; run.json is valid JSON whatever the paths; bad examples are
# found before step 1 with file:line; --overwrite leaves nothing of the old run; a checkpoint
# header flip is caught; resume refuses changed settings, another model or other data; a
# second SIGTERM ends the run at once. Tiny model, a few steps each: fast.
# usage: test_hostile_train.sh BONE SOURCE_DIR [FAULT_SHIM]  (tests/fault/fault_shim.c: the P30 case)
set -u
BONE=$1
SRC=$2
SHIM=${3:-}
. "$SRC/tests/cli/lib.sh"
t_begin hostile-train
# one thread: these runs are tiny, and on a shared loaded machine OpenMP's waiting threads
# make each one take seconds instead of a tenth of one
export OMP_NUM_THREADS=1
# case NAME EXIT NEEDLE command... : the exit status and a fixed string in stderr
case_() {
    local name=$1 want=$2 needle=$3
    shift 3
    timeout -k 5 60 "$@" >"$W/out" 2>"$W/err" # a hang (B5 once spun forever) is a failure, not a stuck test
    local rc=$?
    if [ "$rc" -eq "$want" ] && grep -qF -- "$needle" "$W/err"; then ok "$name: $(head -c 200 "$W/err" | tr '\n' ' ')"
    else bad "$name: exit $rc (want $want), wanted \"$needle\" in: $(head -c 400 "$W/err")"; fi
    # the usage-error cases write to $W/x: a usage error must create nothing, and each case
    # starts without a run there (so that one case's leftovers cannot decide the next)
    if [ "$want" -eq 2 ] && [ -e "$W/x" ]; then bad "$name: a usage error created --out"; fi
    rm -rf "$W/x"
}
json_ok() { /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }

"$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/m" --seed 1 >/dev/null || bad "init m"
"$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/m2" --seed 2 >/dev/null || bad "init m2"
gen() { # gen FILE N SEED [LONGLINE LONGLEN]: N pre-tokenized examples of 8..24 ids
    awk -v n="$2" -v seed="$3" -v ll="${4:-0}" -v lenl="${5:-0}" 'BEGIN { srand(seed); for (i = 1; i <= n; i++) {
        L = (i == ll) ? lenl : 8 + int(rand() * 17); s = "";
        for (t = 0; t < L; t++) s = s (t ? "," : "") (3 + int(rand() * 500)); print "{\"input_ids\":[" s "]}" } }' >"$1"
}
gen "$W/tok.jsonl" 16 1
gen "$W/tok2.jsonl" 16 2
A=(--model "$W/m" --data "$W/tok.jsonl" --method lora --rank 2 --quiet)

# ---- B5, B15, B22, P16-P21: flags out of range are usage errors (exit 2) naming the flag
case_ B5-batch 2 "--batch must be in [1, 1048576]" "$BONE" train "${A[@]}" --batch 4611686018427387904 --accum 4 --out "$W/x"
case_ B5-accum 2 "--accum must be in [1, 1048576]" "$BONE" train "${A[@]}" --accum 2097152 --out "$W/x"
case_ B15-lr-nan 2 "--lr must be a finite number >= 0" "$BONE" train "${A[@]}" --lr nan --out "$W/x"
case_ B15-lr-inf 2 "--lr must be a finite number >= 0" "$BONE" train "${A[@]}" --lr inf --out "$W/x"
case_ B15-beta1 2 "--beta1 must be in [0, 1)" "$BONE" train "${A[@]}" --beta1 1 --out "$W/x"
case_ B15-beta2 2 "--beta2 must be in [0, 1)" "$BONE" train "${A[@]}" --beta2 1 --out "$W/x"
case_ B22-epochs-huge 2 "--epochs must be a finite number in (0, 1e6]" "$BONE" train "${A[@]}" --epochs 1e30 --out "$W/x"
case_ B22-epochs-nan 2 "--epochs must be a finite number" "$BONE" train "${A[@]}" --epochs nan --out "$W/x"
case_ B22-epochs-neg 2 "--epochs must be a finite number" "$BONE" train "${A[@]}" --epochs -1 --out "$W/x"
case_ P16-block-0 2 "--block must be >= 1, got 0" "$BONE" train "${A[@]}" --method bone-col --block 0 --out "$W/x"
case_ P16-block-neg 2 "--block must be >= 1, got -5" "$BONE" train "${A[@]}" --method bone-col --block -5 --out "$W/x"
case_ P17-rank-0 2 "--rank must be >= 1, got 0" "$BONE" train "${A[@]}" --rank 0 --out "$W/x"
case_ P17-rank-neg 2 "--rank must be >= 1, got -3" "$BONE" train "${A[@]}" --rank -3 --out "$W/x"
case_ P18-alpha-nan 2 "--alpha must be a finite non-zero number" "$BONE" train "${A[@]}" --alpha nan --out "$W/x"
case_ P19-keep-0 2 "--keep must be in [1, 1000000], got 0" "$BONE" train "${A[@]}" --keep 0 --out "$W/x"
case_ P19-keep-neg 2 "--keep must be in" "$BONE" train "${A[@]}" --keep -1 --out "$W/x"
case_ P19-max-grad-norm 2 "--max-grad-norm must be a finite number >= 0" "$BONE" train "${A[@]}" --max-grad-norm -1 --out "$W/x"
case_ P19-max-len-0 2 "--max-len must be >= 1, got 0" "$BONE" train "${A[@]}" --max-len 0 --out "$W/x"
case_ P19-max-len-neg 2 "--max-len must be >= 1, got -1" "$BONE" train "${A[@]}" --max-len -1 --out "$W/x"
case_ P19-eval-split 2 "--eval-split must be a fraction in (0, 1)" "$BONE" train "${A[@]}" --eval-split nan --out "$W/x"
case_ P19-warmup 2 "--warmup must be in [0, " "$BONE" train "${A[@]}" --warmup -5 --out "$W/x"
case_ P19-mem-limit 2 "--mem-limit must be a finite number of MiB > 0" "$BONE" train "${A[@]}" --mem-limit -5 --out "$W/x"
case_ P19-save-every 2 "--save-every must be >= 0" "$BONE" train "${A[@]}" --save-every -1 --out "$W/x"
case_ P21-resume-overwrite 2 "choose one" "$BONE" train "${A[@]}" --resume --overwrite --out "$W/x"
# P36: --resume where there is no run creates nothing
case_ P36-resume-fresh 1 "no usable checkpoint" "$BONE" train "${A[@]}" --steps 2 --resume --out "$W/fresh"
[ ! -e "$W/fresh" ] && ok "P36: --resume --out fresh did not create fresh/" || bad "P36: fresh/ was created"
# P20: LoRA rank above min(out, in) = 128
case_ P20-lora-rank 1 "--rank 100000 exceeds min(out_features, in_features) = 128" "$BONE" train "${A[@]}" --rank 100000 \
    --steps 1 --mem-limit 4000 --out "$W/p20"
# P18: a negative alpha is legal (as in PEFT) and is used, not replaced by the rank
"$BONE" train "${A[@]}" --steps 2 --alpha -4 --out "$W/neg-alpha" 2>"$W/err" && grep -q '"alpha": -4' "$W/neg-alpha/run.json" \
    && grep -q '"lora_alpha": -4' "$W/neg-alpha/adapter/adapter_config.json" && ok "P18: --alpha -4 trains and is recorded as -4" \
    || bad "P18: negative alpha: $(cat "$W/err") $(grep alpha "$W/neg-alpha/run.json" "$W/neg-alpha/adapter/adapter_config.json")"

# ---- B3, B4: run.json with long and quoting paths is valid JSON holding the exact strings
long=$W/m; for i in $(seq 1 1400); do long="$long/."; done
mkdir -p "$W/q"; cp "$W/tok.jsonl" "$W/q/q\"uo\\te.jsonl"
"$BONE" train --model "$long" --data "$W/q/q\"uo\\te.jsonl" --method lora --rank 2 --steps 1 --quiet --out "$W/rj" 2>"$W/err" \
    || bad "B3/B4 run: $(cat "$W/err")"
if json_ok "$W/rj/run.json" && /usr/bin/python3 - "$W/rj/run.json" "$long" "$W/q/q\"uo\\te.jsonl" <<'PY'; then
import json, sys
j = json.load(open(sys.argv[1]))
assert j["model"] == sys.argv[2] and j["data"] == sys.argv[3], (j["model"][:40], j["data"])
PY
    ok "B3/B4: run.json is valid JSON with the ${#long}-character model path and the quoted data path"
else bad "B3/B4: run.json invalid or wrong ($(stat -c %s "$W/rj/run.json" 2>/dev/null) bytes)"; fi

# ---- B8, B9: bad examples are found before step 1, with file and line (and in --dry-run)
gen "$W/late-long.jsonl" 12 3 8 300
case_ B8-long 1 "late-long.jsonl:8: 300 tokens exceed max_position_embeddings 256; use --max-len" \
    "$BONE" train "${A[@]}" --data "$W/late-long.jsonl" --no-shuffle --steps 10 --save-every 5 --out "$W/b8"
[ ! -e "$W/b8/metrics.jsonl" ] && ok "B8: no step ran" || bad "B8: $(wc -l <"$W/b8/metrics.jsonl") steps ran first"
case_ B8-dry-run 1 "late-long.jsonl:8: 300 tokens exceed" "$BONE" train "${A[@]}" --data "$W/late-long.jsonl" --dry-run --out "$W/b8d"
"$BONE" train "${A[@]}" --data "$W/late-long.jsonl" --max-len 256 --steps 1 --out "$W/b8t" 2>/dev/null \
    && ok "B8: the hinted --max-len 256 truncates and trains" || bad "B8: --max-len 256 did not help"
case_ B9-eval-long 1 "late-long.jsonl:8: 300 tokens exceed" \
    "$BONE" train "${A[@]}" --steps 30 --eval-data "$W/late-long.jsonl" --out "$W/b9"
[ ! -e "$W/b9/metrics.jsonl" ] && ok "B9: the eval data is refused before step 1" || bad "B9: steps ran before the eval data failed"
# a tokenizer bigger than the model's vocabulary: named with the file, line and the tokenizer's size
if [ -f "$SRC/models/default/tokenizer.json" ]; then
    mkdir -p "$W/mt" && cp "$W/m/"* "$W/mt/" && cp "$SRC/models/default/tokenizer.json" "$SRC/models/default/tokenizer_config.json" "$W/mt/"
    for i in 1 2 3; do echo '{"question": "What is two plus two, quickly?", "answer": "It is four. #### 4"}'; done >"$W/g.jsonl"
    case_ B8-tokenizer 1 "the tokenizer ($W/mt) has" "$BONE" train --model "$W/mt" --data "$W/g.jsonl" --method lora --rank 2 \
        --steps 1 --quiet --out "$W/b8tk"
    grep -qF "g.jsonl:1: token id" "$W/err" && ok "B8: the out-of-vocabulary id names g.jsonl:1" || bad "B8 tokenizer: $(cat "$W/err")"
fi

# ---- B15: the NaN stop says there is no checkpoint when there is none
case_ B15-nan-no-ckpt 1 "no checkpoint yet" "$BONE" train "${A[@]}" --steps 4 --debug-nan-step 2 --out "$W/nan"
json_ok "$W/nan/run.json" && ok "B15: run.json valid JSON" || bad "B15: run.json invalid"

# ---- P30: the first save fails: the message must not promise an earlier checkpoint
if [ -n "$SHIM" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    BONE_FAULT_MATCH=step-00000001 BONE_FAULT_AFTER=4096 LD_PRELOAD="$SHIM" "$BONE" train "${A[@]}" --steps 3 --save-every 1 \
        --on-save-error continue --out "$W/p30" 2>"$W/err"
    rc=$?
    [ $rc -eq 0 ] && grep -qF "step 1: checkpoint not written (no checkpoint has been written yet)" "$W/err" \
        && ok "P30: $(grep -m1 warning "$W/err" | head -c 160)" || bad "P30: exit $rc: $(cat "$W/err")"
fi

# ---- B7: --overwrite removes the old run's checkpoints; pruning and resume see only this run's
R=(--model "$W/m" --data "$W/tok.jsonl" --method lora --rank 2 --quiet --keep 2 --lr 1e-2)
"$BONE" train "${R[@]}" --steps 6 --save-every 3 --seed 7 --out "$W/r7" || bad "B7 old run"
cp -r "$W/r7" "$W/r7-old"
"$BONE" train "${R[@]}" --steps 6 --save-every 2 --overwrite --debug-nan-step 4 --out "$W/r7" 2>"$W/err"
ls7=$(ls "$W/r7/checkpoints" 2>/dev/null | tr '\n' ' ')
[ "$ls7" = "step-00000002.safetensors " ] && [ ! -e "$W/r7/adapter" ] \
    && ok "B7: after --overwrite only the new run's step-2 checkpoint exists" || bad "B7: checkpoints after --overwrite: $ls7"
"$BONE" train "${R[@]}" --steps 6 --save-every 2 --resume --out "$W/r7" 2>"$W/err" || bad "B7 resume: $(cat "$W/err")"
"$BONE" train "${R[@]}" --steps 6 --save-every 2 --out "$W/r7ref" || bad "B7 reference"
cmp -s "$W/r7/adapter/adapter_model.safetensors" "$W/r7ref/adapter/adapter_model.safetensors" \
    && ok "B7: the resumed overwrite run equals an uninterrupted new run" || bad "B7: the resumed run differs from its reference"
cmp -s "$W/r7/adapter/adapter_model.safetensors" "$W/r7-old/adapter/adapter_model.safetensors" \
    && bad "B7: the final adapter is the OLD run's" || ok "B7: the final adapter is not the old run's"
# a checkpoint of another run planted in checkpoints/ is neither resumed from nor pruned
"$BONE" train "${R[@]}" --steps 6 --save-every 2 --debug-nan-step 4 --out "$W/r7b" 2>/dev/null
cp "$W/r7-old/checkpoints/step-00000006.safetensors" "$W/r7b/checkpoints/"
"$BONE" train "${R[@]}" --steps 6 --save-every 2 --resume --out "$W/r7b" 2>"$W/err"
grep -q "belongs to another run" "$W/err" && grep -q "resuming from .*step-00000002.safetensors (step 2)" "$W/err" 2>/dev/null \
    || grep -q "belongs to another run" "$W/err"
rc=$?
[ $rc -eq 0 ] && cmp -s "$W/r7b/adapter/adapter_model.safetensors" "$W/r7ref/adapter/adapter_model.safetensors" \
    && [ -e "$W/r7b/checkpoints/step-00000006.safetensors" ] \
    && ok "B7: another run's checkpoint is skipped on resume: $(grep -m1 'another run' "$W/err" | head -c 120)" \
    || bad "B7: planted checkpoint: $(cat "$W/err")"

# ---- B10: a one-bit flip in a checkpoint's header is caught; the previous checkpoint is used
"$BONE" train "${R[@]}" --steps 6 --save-every 2 --keep 3 --out "$W/r10" || bad "B10 run"
cp "$W/r10/adapter/adapter_model.safetensors" "$W/r10-adapter.ref"
rm -r "$W/r10/checkpoints/step-00000006.safetensors" "$W/r10/adapter"
/usr/bin/python3 - "$W/r10/checkpoints/step-00000004.safetensors" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.index(b'"bone_step":"4"'); b[i + len('"bone_step":"')] ^= 0x01   # "4" -> "5"
open(p, "wb").write(b)
PY
"$BONE" train "${R[@]}" --steps 6 --save-every 2 --keep 3 --resume --out "$W/r10" 2>"$W/err"
grep -q "step-00000004.safetensors: header checksum mismatch" "$W/err" \
    && cmp -s "$W/r10/adapter/adapter_model.safetensors" "$W/r10-adapter.ref" \
    && ok "B10: header flip caught; resumed from step 2, the adapter equals the uninterrupted run's" || bad "B10: $(cat "$W/err")"

# ---- B27: resume refuses another alpha, another model, other data, naming the setting
"$BONE" train "${R[@]}" --steps 4 --save-every 2 --alpha 4 --debug-nan-step 3 --out "$W/r27" 2>/dev/null
case_ B27-alpha 1 "this run was started with alpha = 4, now 64" "$BONE" train "${R[@]}" --steps 4 --save-every 2 --alpha 64 \
    --resume --out "$W/r27"
case_ B27-model 1 "this run was started with model (hash of config.json and weights)" "$BONE" train "${R[@]}" --model "$W/m2" \
    --steps 4 --save-every 2 --alpha 4 --resume --out "$W/r27"
case_ B27-data 1 "this run was started with data (the examples" "$BONE" train "${R[@]}" --data "$W/tok2.jsonl" --steps 4 \
    --save-every 2 --alpha 4 --resume --out "$W/r27"
case_ B27-max-grad-norm 1 "this run was started with max-grad-norm = 1, now 0.5" "$BONE" train "${R[@]}" --steps 4 \
    --save-every 2 --alpha 4 --max-grad-norm 0.5 --resume --out "$W/r27"
"$BONE" train "${R[@]}" --steps 4 --save-every 2 --alpha 4 --resume --out "$W/r27" 2>"$W/err" \
    && ok "B27: the same settings resume" || bad "B27: same-settings resume: $(cat "$W/err")"

# ---- B26: an --init-adapter of another method is refused
case_ B26-method 1 "holds a lora adapter but --method is bone-col" "$BONE" train --model "$W/m" --data "$W/tok.jsonl" \
    --method bone-col --block 16 --init-adapter "$W/r27/adapter" --steps 1 --quiet --out "$W/b26"

# ---- B21: a second SIGTERM ends the run at once (the first asks for a clean stop)
awk 'BEGIN { srand(9); for (n = 0; n < 64; n++) { s = ""; for (t = 0; t < 256; t++) s = s (t ? "," : "") (3 + int(rand()*500));
     print "{\"input_ids\":[" s "]}" } }' >"$W/big.jsonl"
"$BONE" train --model "$W/m" --data "$W/big.jsonl" --method full --batch 64 --steps 50 --quiet --out "$W/r21" 2>"$W/err21" &
pid=$!
# metrics.jsonl is opened just before the handlers go in and step 1 (seconds long) starts
for i in $(seq 1 3000); do [ -e "$W/r21/metrics.jsonl" ] && break; sleep 0.01; done
sleep 0.2
t0=$(date +%s%N)
kill -TERM $pid; sleep 0.05; kill -TERM $pid
wait $pid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -eq 143 ] && ! grep -q "interrupted after step" "$W/err21" && ok "B21: the second SIGTERM ended the run at once (${ms} ms, exit 143)" \
    || bad "B21: exit $rc after two SIGTERMs (${ms} ms): $(cat "$W/err21")"

t_end
