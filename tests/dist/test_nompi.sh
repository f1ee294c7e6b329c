#!/usr/bin/env bash
# test_nompi.sh — a bone built without MPI, started as one rank of several (the environment
# mpirun/srun give each rank), refuses to train, saying so, and writes nothing; alone it trains.
# usage: test_nompi.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
t_begin nompi
run_ok "init" "$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/base" --seed 2 || t_fatal
printf '{"input_ids":[5,6,7,8,9,10]}\n{"input_ids":[11,12,13,14]}\n' >"$W/d.jsonl"
A=(train --model "$W/base" --data "$W/d.jsonl" --method lora --steps 1 --quiet)
for var in OMPI_COMM_WORLD_SIZE PMI_SIZE SLURM_STEP_NUM_TASKS; do
    env "$var=2" "$BONE" "${A[@]}" --out "$W/o-$var" >"$W/out" 2>"$W/err"
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q "built without MPI" "$W/err" && [ ! -e "$W/o-$var" ]; then
        ok "$var=2: exit $rc, \"built without MPI\", nothing written"
    else bad "$var=2: exit $rc: $(head -c 300 "$W/err")"; fi
done
run_ok "one process (OMPI_COMM_WORLD_SIZE=1)" env OMPI_COMM_WORLD_SIZE=1 "$BONE" "${A[@]}" --out "$W/one" &&
    ok "a launch of one rank trains"
t_end
