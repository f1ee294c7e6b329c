#!/usr/bin/env bash
# test_fault.sh — full disk and I/O errors through the real binary. A checkpoint, the final
# adapter or a merged model that cannot be written must fail with a clear message (exit 1),
# leave the previous files intact and no temporaries behind; the run then resumes from the
# last good checkpoint with the uninterrupted run's losses.
# Two ways to fail writes:
#   - fault_shim.so (LD_PRELOAD; always): fwrite/write return ENOSPC after N bytes, or fsync
#     returns EIO, for files whose path contains $BONE_FAULT_MATCH;
#   - a real full disk: a small tmpfs (mount -t tmpfs -o size=...), when this process may
#     mount (root in a permissive sandbox); otherwise that part is reported as skipped.
# usage: test_fault.sh BONE SOURCE_DIR SHIM
set -u
BONE=$1
SRC=$2
SHIM=$3
W=$(mktemp -d /tmp/bone-fault.XXXXXX)
MNT=""
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
losses() { grep -o '"loss": [^,]*' "$1/metrics.jsonl"; }
# sanitizer builds: our shim is preloaded ahead of the sanitizer runtime
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
faulty() { LD_PRELOAD="$SHIM" "$@"; }
no_temporaries() { ! ls "$1" 2>/dev/null | grep -q '\.tmp\.'; }

"$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/base" --seed 2 >/dev/null || { echo "FAIL init"; exit 1; }
awk 'BEGIN { srand(5); for (n = 0; n < 32; n++) { s = ""; for (t = 0; t < 32; t++) s = s (t ? "," : "") (3 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
ARGS=(--model "$W/base" --data "$W/data.jsonl" --steps 6 --batch 2 --lr 1e-3 --seed 4 --quiet --method lora --block 16)
"$BONE" train "${ARGS[@]}" --save-every 2 --keep 2 --out "$W/ref" || bad "reference run"
"$BONE" train "${ARGS[@]}" --save-every 1 --keep 2 --out "$W/ref1" || bad "reference run (--save-every 1)"

# 1. ENOSPC while writing the step-4 checkpoint: exit 1 naming the step, step 2 intact, resume
d="$W/enospc"
BONE_FAULT_MATCH=step-00000004 BONE_FAULT_AFTER=4096 faulty "$BONE" train "${ARGS[@]}" --save-every 2 --keep 2 --out "$d" 2>"$W/err"
rc=$?
msg=$(cat "$W/err")
[ $rc -eq 1 ] && grep -q "step 4: checkpoint not written (the previous one is intact)" "$W/err" \
    && grep -q "No space left on device" "$W/err" && ok "checkpoint ENOSPC: exit 1: $msg" \
    || bad "checkpoint ENOSPC: exit $rc: $msg"
[ "$(ls "$d/checkpoints")" = "step-00000002.safetensors" ] && ok "only the step-2 checkpoint remains" \
    || bad "checkpoint files after ENOSPC: $(ls "$d/checkpoints" | tr '\n' ' ')"
no_temporaries "$d/checkpoints" && ok "no temporary file left" || bad "temporary left: $(ls "$d/checkpoints")"
"$BONE" train "${ARGS[@]}" --save-every 2 --keep 2 --out "$d" --resume 2>"$W/err" || bad "resume after ENOSPC: $(cat "$W/err")"
cmp -s <(losses "$W/ref") <(losses "$d") && ok "resumed from step 2: losses identical to the uninterrupted run" \
    || bad "losses differ after resume: $(diff <(losses "$W/ref") <(losses "$d") | head -4)"
cmp -s "$W/ref/adapter/adapter_model.safetensors" "$d/adapter/adapter_model.safetensors" \
    && ok "final adapter bit-identical" || bad "final adapter differs"

# 1b. with --on-save-error continue (when bone has it): warn, keep training, later saves work
if "$BONE" help train 2>&1 | grep -q -- "--on-save-error"; then
    d="$W/continue"
    BONE_FAULT_MATCH=step-00000004 BONE_FAULT_AFTER=4096 faulty "$BONE" train "${ARGS[@]}" --save-every 2 --keep 2 \
        --on-save-error continue --out "$d" 2>"$W/err"
    rc=$?
    [ $rc -eq 0 ] && grep -q "step 4: checkpoint not written" "$W/err" && ok "--on-save-error continue: warned, exit 0" \
        || bad "--on-save-error continue: exit $rc: $(cat "$W/err")"
    [ "$(ls "$d/checkpoints" | tr '\n' ' ')" = "step-00000002.safetensors step-00000006.safetensors " ] \
        && no_temporaries "$d/checkpoints" && ok "--on-save-error continue: steps 2 and 6 saved" \
        || bad "--on-save-error continue: files $(ls "$d/checkpoints" | tr '\n' ' ')"
    cmp -s <(losses "$W/ref") <(losses "$d") && cmp -s "$W/ref/adapter/adapter_model.safetensors" \
        "$d/adapter/adapter_model.safetensors" && ok "--on-save-error continue: same losses and adapter" \
        || bad "--on-save-error continue: the run differs from the reference"
fi

# 2. fsync fails (EIO) on the step-4 checkpoint
d="$W/eio"
BONE_FAULT_OP=fsync BONE_FAULT_MATCH=step-00000004 faulty "$BONE" train "${ARGS[@]}" --save-every 2 --keep 2 --out "$d" 2>"$W/err"
rc=$?
msg=$(cat "$W/err")
[ $rc -eq 1 ] && grep -q "step 4: checkpoint not written" "$W/err" && grep -q "Input/output error" "$W/err" \
    && ok "checkpoint fsync EIO: exit 1: $msg" || bad "checkpoint fsync EIO: exit $rc: $msg"
[ "$(ls "$d/checkpoints")" = "step-00000002.safetensors" ] && no_temporaries "$d/checkpoints" \
    && ok "fsync EIO: step 2 kept, no temporary" || bad "fsync EIO: files: $(ls "$d/checkpoints" | tr '\n' ' ')"

# 3. the final adapter cannot be written: exit 1, the last checkpoint is kept, --resume writes it
d="$W/adapter"
BONE_FAULT_MATCH=adapter/adapter_model.safetensors BONE_FAULT_AFTER=1000 faulty "$BONE" train "${ARGS[@]}" \
    --save-every 2 --keep 2 --out "$d" 2>"$W/err"
rc=$?
msg=$(cat "$W/err")
[ $rc -eq 1 ] && grep -q "adapter_model.safetensors: write failed: No space left on device" "$W/err" \
    && ok "adapter ENOSPC: exit 1: $msg" || bad "adapter ENOSPC: exit $rc: $msg"
[ -e "$d/checkpoints/step-00000006.safetensors" ] && ok "adapter ENOSPC: final checkpoint kept" \
    || bad "adapter ENOSPC: checkpoints $(ls "$d/checkpoints" | tr '\n' ' ')"
[ ! -e "$d/adapter/adapter_model.safetensors" ] && no_temporaries "$d/adapter" \
    && ok "adapter ENOSPC: no partial adapter file" || bad "adapter ENOSPC: $(ls "$d/adapter" | tr '\n' ' ')"
"$BONE" train "${ARGS[@]}" --save-every 2 --keep 2 --out "$d" --resume 2>"$W/err"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$W/ref/adapter/adapter_model.safetensors" "$d/adapter/adapter_model.safetensors"; then
    ok "adapter ENOSPC: --resume writes the adapter, bit-identical"
else
    bad "adapter ENOSPC: --resume exit $rc: $(head -c 300 "$W/err")"
fi

# 4. merge into an existing output directory that cannot be rewritten: bone writes a temporary
# directory beside it (OUT.tmp.PID.HEX) and swaps it in only when complete, so the old
# directory stays exactly as it was (its config.json too: it used to be written first)
no_temp_dirs() { ! ls "$(dirname "$1")" | grep -q "^$(basename "$1")\.tmp\."; }
"$BONE" merge --model "$W/base" --adapter "$W/ref/adapter" --out "$W/merged" >/dev/null || bad "merge"
echo "notes kept across merges" >"$W/merged/README.md"
echo " " >>"$W/merged/config.json" # differs from what a merge writes: a rewritten config shows
cp -a "$W/merged" "$W/merged.orig"
BONE_FAULT_MATCH=merged.tmp. BONE_FAULT_AFTER=65536 faulty "$BONE" merge --model "$W/base" \
    --adapter "$W/ref/adapter" --out "$W/merged" >/dev/null 2>"$W/err"
rc=$?
msg=$(cat "$W/err")
[ $rc -eq 1 ] && grep -q "model.safetensors: write failed: No space left on device" "$W/err" \
    && ok "merge ENOSPC: exit 1: $msg" || bad "merge ENOSPC: exit $rc: $msg"
diff -r "$W/merged.orig" "$W/merged" >/dev/null && no_temporaries "$W/merged" && no_temp_dirs "$W/merged" \
    && ok "merge ENOSPC: previous directory intact, no temporary" || bad "merge ENOSPC: output damaged"
# the same with shards, failing on the second shard after the first was written
BONE_FAULT_MATCH=model-00002-of faulty "$BONE" merge --model "$W/base" --adapter "$W/ref/adapter" \
    --out "$W/merged" --max-shard-size 200KB >/dev/null 2>"$W/err"
rc=$?
[ $rc -eq 1 ] && grep -q "model-00002-of-000[0-9]*.safetensors: write failed: No space left" "$W/err" \
    && diff -r "$W/merged.orig" "$W/merged" >/dev/null && no_temp_dirs "$W/merged" \
    && ok "sharded merge ENOSPC on shard 2: exit 1, previous directory intact: $(cat "$W/err")" \
    || bad "sharded merge ENOSPC: exit $rc: $(cat "$W/err"); $(diff -r "$W/merged.orig" "$W/merged" | head -3)"
# a successful sharded merge over it replaces the single file as a set and keeps README.md
"$BONE" merge --model "$W/base" --adapter "$W/ref/adapter" --out "$W/merged" --max-shard-size 200KB >/dev/null \
    2>"$W/err" && [ ! -e "$W/merged/model.safetensors" ] && [ -f "$W/merged/model.safetensors.index.json" ] \
    && cmp -s "$W/merged/README.md" "$W/merged.orig/README.md" && no_temp_dirs "$W/merged" \
    && ok "sharded merge over a single-file output: $(ls "$W/merged" | grep -c '^model-') shards, README.md kept" \
    || bad "sharded merge over an existing output: $(cat "$W/err"); files: $(ls "$W/merged" | tr '\n' ' ')"
BONE_FAULT_OP=fsync BONE_FAULT_MATCH=merged2.tmp. faulty "$BONE" merge --model "$W/base" --adapter "$W/ref/adapter" \
    --out "$W/merged2" >/dev/null 2>"$W/err"
rc=$?
[ $rc -eq 1 ] && grep -q "flush failed: Input/output error" "$W/err" && [ ! -e "$W/merged2" ] \
    && no_temp_dirs "$W/merged2" && ok "merge fsync EIO: exit 1, nothing half-written: $(cat "$W/err")" \
    || bad "merge fsync EIO: exit $rc: $(cat "$W/err"); files: $(ls "$W/merged2" 2>/dev/null | tr '\n' ' ')"

# 5. a real full disk: a tmpfs that holds two checkpoints but not a third
ck=$(stat -c %s "$W/ref1/checkpoints/step-00000006.safetensors")
mkdir -p "$W/small"
if mount -t tmpfs -o size=$((ck * 5 / 2 + 65536)) tmpfs "$W/small" 2>/dev/null; then
    MNT="$W/small"
    d="$MNT/run"
    "$BONE" train "${ARGS[@]}" --save-every 1 --keep 2 --out "$d" 2>"$W/err"
    rc=$?
    msg=$(cat "$W/err")
    [ $rc -eq 1 ] && grep -q "step 3: checkpoint not written (the previous one is intact)" "$W/err" \
        && grep -q "No space left on device" "$W/err" && ok "tmpfs full: exit 1: $msg" \
        || bad "tmpfs full: exit $rc: $msg"
    [ "$(ls "$d/checkpoints" | tr '\n' ' ')" = "step-00000001.safetensors step-00000002.safetensors " ] \
        && ok "tmpfs full: steps 1 and 2 kept, no temporary" || bad "tmpfs full: files $(ls "$d/checkpoints" | tr '\n' ' ')"
    cp -r "$d" "$W/from-tmpfs"
    umount "$MNT" && MNT=""
    "$BONE" train "${ARGS[@]}" --save-every 1 --keep 2 --out "$W/from-tmpfs" --resume 2>"$W/err" || bad "resume: $(cat "$W/err")"
    cmp -s <(losses "$W/ref1") <(losses "$W/from-tmpfs") && ok "tmpfs full: resumed on another disk, identical losses" \
        || bad "tmpfs full: losses differ after resume"
else
    echo "skip tmpfs full-disk case: mounting a tmpfs is not permitted here (the LD_PRELOAD cases above ran)"
fi
# 5b. a real full disk under a merge into an existing directory: the tmpfs holds one merged
# model but not a second copy beside it, so the merge fails and the first stays intact
ms=$(du -sb "$W/merged.orig" | cut -f1)
mkdir -p "$W/small2"
if mount -t tmpfs -o size=$((ms * 3 / 2 + 65536)) tmpfs "$W/small2" 2>/dev/null; then
    MNT="$W/small2"
    cp -a "$W/merged.orig" "$MNT/out"
    "$BONE" merge --model "$W/base" --adapter "$W/ref/adapter" --out "$MNT/out" >/dev/null 2>"$W/err"
    rc=$?
    [ $rc -eq 1 ] && grep -q "No space left on device" "$W/err" && diff -r "$W/merged.orig" "$MNT/out" >/dev/null \
        && no_temp_dirs "$MNT/out" && ok "tmpfs full under merge: exit 1, previous directory intact: $(cat "$W/err")" \
        || bad "tmpfs full under merge: exit $rc: $(cat "$W/err"); $(ls "$MNT" | tr '\n' ' ')"
    umount "$MNT" && MNT=""
else
    echo "skip tmpfs merge case: mounting a tmpfs is not permitted here (the LD_PRELOAD cases above ran)"
fi

echo "fault tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
