#!/usr/bin/env bash
# test_resume.sh — checkpoints through the real binary: SIGINT finishes the step, writes a
# checkpoint and exits 130; SIGKILL loses only the work since the last checkpoint; --resume then
# reproduces the uninterrupted run's per-step losses exactly; a corrupted newest checkpoint is
# refused with a clear message and the previous one is used; a NaN loss stops the run naming the
# step and keeps the last good checkpoint.
# The kills are timed by observed progress, not by a clock: right after a checkpoint appears,
# while a checkpoint's temporary file is being written, and between two checkpoints (a metrics
# line). A trial whose run was not interrupted mid-way (it ended, or nothing was saved yet) fails.
# usage: test_resume.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
t_begin resume
losses() { grep -o '"loss": [^,]*' "$1/metrics.jsonl"; }
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# a checkpoint temporary file of step 6 or later exists (so one complete checkpoint precedes it)
writing_late_checkpoint() {
    compgen -G "$1/checkpoints/step-0000000[6-9].safetensors.tmp.*" >/dev/null \
        || compgen -G "$1/checkpoints/step-000000[1-9][0-9].safetensors.tmp.*" >/dev/null
}

run_ok "init" "$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/base" --seed 2 || t_fatal
awk 'BEGIN { srand(5); for (n = 0; n < 64; n++) { s = ""; for (t = 0; t < 64; t++) s = s (t ? "," : "") (3 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
ARGS=(--model "$W/base" --data "$W/data.jsonl" --steps 24 --batch 4 --accum 2 --lr 1e-3 --schedule cosine --warmup 2
      --save-every 3 --keep 3 --seed 4 --block 16)
killed=0
for method in lora bone-col; do
    run_ok "$method reference run" "$BONE" train "${ARGS[@]}" --quiet --method $method --out "$W/ref-$method" || continue
    [ "$(losses "$W/ref-$method" | wc -l)" -eq 24 ] && ok "$method: reference run has 24 steps" \
        || bad "$method: reference has $(losses "$W/ref-$method" | wc -l) steps, not 24"
    # SIGINT once the first checkpoint exists
    "$BONE" train "${ARGS[@]}" --quiet --method $method --out "$W/int-$method" &
    pid=$!
    wait_for $pid 120 [ -e "$W/int-$method/checkpoints/step-00000003.safetensors" ]
    kill -INT $pid 2>/dev/null
    wait $pid
    rc=$?
    done_steps=$(losses "$W/int-$method" | wc -l)
    if [ $rc -eq 130 ]; then ok "$method: SIGINT → exit 130 after step $done_steps"
    else bad "$method: SIGINT exit $rc after step $done_steps (130 expected: the run was not interrupted)"; fi
    ls "$W/int-$method/checkpoints/" | grep -q "step-0*$done_steps.safetensors" && ok "$method: checkpoint at the interrupted step" \
        || bad "$method: no checkpoint for step $done_steps: $(ls "$W/int-$method/checkpoints/")"
    run_ok "$method: resume after SIGINT" "$BONE" train "${ARGS[@]}" --quiet --method $method --out "$W/int-$method" --resume
    cmp -s <(losses "$W/ref-$method") <(losses "$W/int-$method") && ok "$method: resumed losses identical after SIGINT" \
        || bad "$method: losses differ after SIGINT+resume: $(diff <(losses "$W/ref-$method") <(losses "$W/int-$method") | head -4)"
    cmp -s "$W/ref-$method/adapter/adapter_model.safetensors" "$W/int-$method/adapter/adapter_model.safetensors" \
        && ok "$method: final adapter bit-identical" || bad "$method: final adapter differs"
    # SIGKILL at observed moments: just after the step-3 checkpoint, inside a later checkpoint's
    # write (its temporary file exists), and between checkpoints (the 8th metrics line)
    for when in after-checkpoint in-checkpoint-write between-checkpoints; do
        d="$W/kill-$method-$when"
        "$BONE" train "${ARGS[@]}" --quiet --method $method --out "$d" &
        pid=$!
        case $when in
            after-checkpoint) wait_for $pid 120 [ -e "$d/checkpoints/step-00000003.safetensors" ] ;;
            in-checkpoint-write) wait_for $pid 120 writing_late_checkpoint "$d" ;;
            between-checkpoints) wait_for $pid 120 [ "$(nlines "$d/metrics.jsonl")" -ge 8 ] ;;
        esac
        seen=$?
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        rc=$?
        steps=$(nlines "$d/metrics.jsonl")
        tmp=$(compgen -G "$d/checkpoints/*.tmp.*" | wc -l)
        # interrupted mid-way: killed by the signal (not ended), with a checkpoint to resume from
        if [ $seen -ne 0 ] || [ $rc -ne 137 ] || ! compgen -G "$d/checkpoints/step-*.safetensors" >/dev/null; then
            bad "$method: SIGKILL $when did not interrupt the run mid-way (trigger seen: $((seen == 0)), exit $rc, $steps steps, checkpoints: $(ls "$d/checkpoints" 2>/dev/null | tr '\n' ' '))"
            continue
        fi
        killed=$((killed + 1))
        "$BONE" train "${ARGS[@]}" --method $method --out "$d" --resume >/dev/null 2>"$W/err" \
            || { bad "$method: resume after SIGKILL $when: $(tail -c 300 "$W/err")"; continue; }
        from=$(sed -n 's/.*resuming from .* (step \([0-9]*\)).*/\1/p' "$W/err" | head -n 1)
        require_number "$method: SIGKILL $when: the step the resume started from" "$from" || continue
        cmp -s <(losses "$W/ref-$method") <(losses "$d") \
            && ok "$method: SIGKILL $when (after step $steps, $tmp temporary file(s) left), resumed from step $from: losses identical" \
            || bad "$method: SIGKILL $when: losses differ after resuming from step $from"
    done
done
require_at_least "runs interrupted mid-way by SIGKILL and resumed" "$killed" 6 && ok "$killed SIGKILL trials interrupted a run mid-way"

# a corrupted newest checkpoint is refused, the previous one is used
d="$W/int-lora"
newest=$(ls "$d/checkpoints" | grep '^step-' | sort | tail -n 1)
sz=$(stat -c %s "$d/checkpoints/$newest")
printf '\x55' | dd of="$d/checkpoints/$newest" bs=1 seek=$((sz - 100)) conv=notrunc status=none
"$BONE" train "${ARGS[@]}" --quiet --method lora --out "$d" --resume 2>"$W/err"
grep -q "checksum mismatch" "$W/err" && grep -q "trying the previous one" "$W/err" \
    && ok "corrupted checkpoint refused, previous one offered" || bad "corruption message: $(cat "$W/err")"
cmp -s <(losses "$W/ref-lora") <(losses "$d") && ok "resume from the previous checkpoint: identical losses" \
    || bad "losses differ after resuming from the previous checkpoint"

# changed settings on resume are refused
"$BONE" train "${ARGS[@]}" --quiet --method lora --out "$d" --resume --lr 5e-3 2>"$W/err"
[ $? -eq 1 ] && grep -q "lr" "$W/err" && ok "resume with another --lr is refused: $(head -c 120 "$W/err")" \
    || bad "resume with changed settings: $(cat "$W/err")"
# a second run into the same directory without --resume is refused
"$BONE" train "${ARGS[@]}" --quiet --method lora --out "$d" 2>"$W/err"
[ $? -eq 1 ] && grep -q "already holds a run" "$W/err" && ok "existing run directory is not overwritten silently" \
    || bad "rerun into an existing run directory: $(cat "$W/err")"

# NaN stops the run naming the step and keeps the last good checkpoint
"$BONE" train "${ARGS[@]}" --quiet --method lora --out "$W/nan" --debug-nan-step 5 2>"$W/err"
rc=$?
[ $rc -eq 1 ] && grep -q "step 5: the loss is NaN" "$W/err" && ok "NaN at step 5 stops the run: $(head -c 100 "$W/err")" \
    || bad "NaN handling: exit $rc: $(cat "$W/err")"
[ -f "$W/nan/checkpoints/step-00000003.safetensors" ] && [ ! -e "$W/nan/adapter" ] \
    && ok "the step-3 checkpoint is kept, no adapter written" || bad "after NaN: $(ls -R "$W/nan" | head)"
[ "$(losses "$W/nan" | wc -l)" -eq 4 ] && ok "metrics stop at step 4" || bad "metrics after NaN"

t_end
