#!/usr/bin/env bash
# test_resume.sh — checkpoints through the real binary: SIGINT finishes the step, writes a
# checkpoint and exits 130; SIGKILL loses only the work since the last checkpoint; --resume then
# reproduces the uninterrupted run's per-step losses exactly; a corrupted newest checkpoint is
# refused with a clear message and the previous one is used; a NaN loss stops the run naming the
# step and keeps the last good checkpoint.
# The kills are timed by observed progress, not by a clock, on one run killed three times and
# resumed after each: right after its first checkpoint appears, while a checkpoint's temporary
# file is being written (when the poll catches one; else a few steps on), and between two
# checkpoints. A kill that did not interrupt the run mid-way (it had ended, or nothing was saved
# yet), or a resume that did not start from a checkpoint, fails.
# usage: test_resume.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
t_begin resume
losses() { grep -o '"loss": [^,]*' "$1/metrics.jsonl"; }
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
has_lines() { [ "$(nlines "$1")" -ge "$2" ]; } # FILE N: counted anew at every poll
# a checkpoint is being written: its temporary file ("step-N.safetensors.tmp.PID") exists
writing_checkpoint() { compgen -G "$1/checkpoints/step-*.safetensors.tmp.*" >/dev/null; }
# SIGKILL once `until` holds (polled without a fork) or, when given, once the run has at least
# `fallback` metrics lines; sets rc (137 when the signal ended it) and caught (0 when `until` held)
kill_when() { # pid fallback until...
    local pid=$1 fb=$2 t0=$SECONDS
    shift 2
    caught=1
    while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - t0)) -lt 300 ]; do
        if "$@"; then caught=0; break; fi
        [ "$fb" -gt 0 ] && [ "$(nlines "$d/metrics.jsonl")" -ge "$fb" ] && break
        read -r -t 0.002 -u 9 # sleep 2 ms without a fork (nothing ever writes the FIFO)
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
}

mkfifo "$W/tick" && exec 9<>"$W/tick"
run_ok "init" "$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/base" --seed 2 || t_fatal
awk 'BEGIN { srand(5); for (n = 0; n < 64; n++) { s = ""; for (t = 0; t < 64; t++) s = s (t ? "," : "") (3 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
ARGS=(--model "$W/base" --data "$W/data.jsonl" --steps 24 --batch 4 --accum 2 --lr 1e-3 --schedule cosine --warmup 2
      --save-every 3 --keep 3 --seed 4 --block 16)
killed=0
writes=0
# the run ended by the signal (exit 137) before its last step, with a checkpoint to resume from
interrupted() {
    local steps ck
    steps=$(nlines "$d/metrics.jsonl")
    ck=$(ls "$d/checkpoints" 2>/dev/null | grep -c '^step-[0-9]*\.safetensors$')
    if [ "$rc" -eq 137 ] && [ "$steps" -lt 24 ] && [ "$ck" -ge 1 ]; then
        killed=$((killed + 1))
        ok "$1: killed after step $steps, $ck checkpoint(s)"
        return 0
    fi
    bad "$1: not interrupted mid-way (exit $rc, $steps steps, checkpoints: $(ls "$d/checkpoints" 2>/dev/null | tr '\n' ' '))"
    return 1
}
# the resume said which checkpoint it started from (a step > 0)
resumed_from() {
    local from
    from=$(sed -n 's/.*resuming from .* (step \([0-9]*\)).*/\1/p' "$2" | head -n 1)
    [ -n "$from" ] && [ "$from" -gt 0 ] && return 0
    bad "$1: no \"resuming from ... (step N)\" line: $(tail -c 300 "$2")"
    return 1
}
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
    # SIGKILL three times into one run, each resumed from its newest checkpoint
    d="$W/kill-$method"
    "$BONE" train "${ARGS[@]}" --quiet --method $method --out "$d" &
    kill_when $! 0 [ -e "$d/checkpoints/step-00000003.safetensors" ]
    interrupted "$method: SIGKILL right after the first checkpoint" || continue
    for when in in-checkpoint-write between-checkpoints; do
        start=$(nlines "$d/metrics.jsonl")
        "$BONE" train "${ARGS[@]}" --method $method --out "$d" --resume >/dev/null 2>"$W/err-$when" &
        if [ $when = in-checkpoint-write ]; then kill_when $! $((start + 4)) writing_checkpoint "$d"
        else kill_when $! 0 has_lines "$d/metrics.jsonl" $((start + 2)); fi
        [ $when = in-checkpoint-write ] && [ $caught -eq 0 ] && writes=$((writes + 1))
        resumed_from "$method: resume before the SIGKILL $when" "$W/err-$when" || continue 2
        interrupted "$method: SIGKILL $when$([ $when = in-checkpoint-write ] && [ $caught -ne 0 ] && echo ' (no temporary file caught; killed a few steps on)')" \
            || continue 2
    done
    "$BONE" train "${ARGS[@]}" --method $method --out "$d" --resume >/dev/null 2>"$W/err-last" \
        || { bad "$method: the last resume after SIGKILL: $(tail -c 300 "$W/err-last")"; continue; }
    resumed_from "$method: the last resume" "$W/err-last" || continue
    cmp -s <(losses "$W/ref-$method") <(losses "$d") && ok "$method: after 3 SIGKILLs and resumes, the 24 losses are identical" \
        || bad "$method: losses differ after SIGKILLs and resumes: $(diff <(losses "$W/ref-$method") <(losses "$d") | head -4)"
    cmp -s "$W/ref-$method/adapter/adapter_model.safetensors" "$d/adapter/adapter_model.safetensors" \
        && ok "$method: final adapter bit-identical after SIGKILLs" || bad "$method: final adapter differs after SIGKILLs"
done
require_at_least "runs interrupted mid-way by SIGKILL" "$killed" 6 && ok "$killed SIGKILLs interrupted a run mid-way"
echo "note: $writes of 2 SIGKILLs timed for a checkpoint write landed while its temporary file existed"

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
