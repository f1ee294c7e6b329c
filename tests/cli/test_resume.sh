#!/usr/bin/env bash
# test_resume.sh — checkpoints through the real binary: SIGINT finishes the step, writes a
# checkpoint and exits 130; SIGKILL at a random moment loses only the work since the last
# checkpoint; --resume then reproduces the uninterrupted run's per-step losses exactly; a
# corrupted newest checkpoint is refused with a clear message and the previous one is used;
# a NaN loss stops the run naming the step and keeps the last good checkpoint.
# usage: test_resume.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
W=$(mktemp -d /tmp/bone-resume.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
losses() { grep -o '"loss": [^,]*' "$1/metrics.jsonl"; }

"$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/base" --seed 2 >/dev/null
awk 'BEGIN { srand(5); for (n = 0; n < 64; n++) { s = ""; for (t = 0; t < 64; t++) s = s (t ? "," : "") (3 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
ARGS=(--model "$W/base" --data "$W/data.jsonl" --steps 24 --batch 4 --accum 2 --lr 1e-3 --schedule cosine --warmup 2
      --save-every 3 --keep 3 --seed 4 --quiet --block 16)
for method in lora bone-col; do
    "$BONE" train "${ARGS[@]}" --method $method --out "$W/ref-$method" || bad "$method reference run"
    [ "$(losses "$W/ref-$method" | wc -l)" -eq 24 ] || bad "$method reference has 24 steps"
    # SIGINT once the first checkpoint exists
    "$BONE" train "${ARGS[@]}" --method $method --out "$W/int-$method" &
    pid=$!
    for i in $(seq 1 2000); do [ -e "$W/int-$method/checkpoints/step-00000003.safetensors" ] && break; sleep 0.01; done
    kill -INT $pid 2>/dev/null
    wait $pid
    rc=$?
    done_steps=$(losses "$W/int-$method" | wc -l)
    if [ $rc -eq 130 ]; then ok "$method: SIGINT → exit 130 after step $done_steps"
    elif [ $rc -eq 0 ]; then ok "$method: (the run finished before SIGINT arrived)"
    else bad "$method: SIGINT exit $rc"; fi
    ls "$W/int-$method/checkpoints/" | grep -q "step-0*$done_steps.safetensors" && ok "$method: checkpoint at the interrupted step" \
        || bad "$method: no checkpoint for step $done_steps: $(ls "$W/int-$method/checkpoints/")"
    "$BONE" train "${ARGS[@]}" --method $method --out "$W/int-$method" --resume || bad "$method: resume after SIGINT"
    cmp -s <(losses "$W/ref-$method") <(losses "$W/int-$method") && ok "$method: resumed losses identical after SIGINT" \
        || bad "$method: losses differ after SIGINT+resume: $(diff <(losses "$W/ref-$method") <(losses "$W/int-$method") | head -4)"
    cmp -s "$W/ref-$method/adapter/adapter_model.safetensors" "$W/int-$method/adapter/adapter_model.safetensors" \
        && ok "$method: final adapter bit-identical" || bad "$method: final adapter differs"
    # SIGKILL at several moments (including during checkpoint writes)
    for delay in 0.05 0.15 0.3 0.45; do
        d="$W/kill-$method-$delay"
        "$BONE" train "${ARGS[@]}" --method $method --out "$d" &
        pid=$!
        sleep $delay
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        if ls "$d/checkpoints" 2>/dev/null | grep -q '^step-'; then
            "$BONE" train "${ARGS[@]}" --method $method --out "$d" --resume >/dev/null 2>&1 || bad "$method: resume after SIGKILL"
            cmp -s <(losses "$W/ref-$method") <(losses "$d") && ok "$method: SIGKILL at ${delay}s, resumed losses identical" \
                || bad "$method: SIGKILL at ${delay}s: losses differ"
        else
            ok "$method: SIGKILL at ${delay}s came before the first checkpoint (nothing to resume)"
        fi
    done
done

# a corrupted newest checkpoint is refused, the previous one is used
d="$W/int-lora"
newest=$(ls "$d/checkpoints" | grep '^step-' | sort | tail -n 1)
sz=$(stat -c %s "$d/checkpoints/$newest")
printf '\x55' | dd of="$d/checkpoints/$newest" bs=1 seek=$((sz - 100)) conv=notrunc status=none
"$BONE" train "${ARGS[@]}" --method lora --out "$d" --resume 2>"$W/err"
grep -q "checksum mismatch" "$W/err" && grep -q "trying the previous one" "$W/err" \
    && ok "corrupted checkpoint refused, previous one offered" || bad "corruption message: $(cat "$W/err")"
cmp -s <(losses "$W/ref-lora") <(losses "$d") && ok "resume from the previous checkpoint: identical losses" \
    || bad "losses differ after resuming from the previous checkpoint"

# changed settings on resume are refused
"$BONE" train "${ARGS[@]}" --method lora --out "$d" --resume --lr 5e-3 2>"$W/err"
[ $? -eq 1 ] && grep -q "lr" "$W/err" && ok "resume with another --lr is refused: $(head -c 120 "$W/err")" \
    || bad "resume with changed settings: $(cat "$W/err")"
# a second run into the same directory without --resume is refused
"$BONE" train "${ARGS[@]}" --method lora --out "$d" 2>"$W/err"
[ $? -eq 1 ] && grep -q "already holds a run" "$W/err" && ok "existing run directory is not overwritten silently" \
    || bad "rerun into an existing run directory: $(cat "$W/err")"

# NaN stops the run naming the step and keeps the last good checkpoint
"$BONE" train "${ARGS[@]}" --method lora --out "$W/nan" --debug-nan-step 5 2>"$W/err"
rc=$?
[ $rc -eq 1 ] && grep -q "step 5: the loss is NaN" "$W/err" && ok "NaN at step 5 stops the run: $(head -c 100 "$W/err")" \
    || bad "NaN handling: exit $rc: $(cat "$W/err")"
[ -f "$W/nan/checkpoints/step-00000003.safetensors" ] && [ ! -e "$W/nan/adapter" ] \
    && ok "the step-3 checkpoint is kept, no adapter written" || bad "after NaN: $(ls -R "$W/nan" | head)"
[ "$(losses "$W/nan" | wc -l)" -eq 4 ] && ok "metrics stop at step 4" || bad "metrics after NaN"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
