#!/usr/bin/env bash
# test_cli.sh — end-to-end through the real binary: exit codes and usage hints, --help for
# every command, init → train → score, padding invariance, determinism for a fixed seed,
# and clear errors for bad files. usage: test_cli.sh BONE_BINARY SOURCE_DIR
set -u
BONE=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
t_begin cli

# usage errors exit 2 with a hint
expect_rc 2 "no command" "$BONE"
expect_rc 2 "unknown command" "$BONE" frobnicate
expect_rc 2 "train without --model" "$BONE" train --data x --out y
contains "$W/err" "try: bone train --help" "usage error prints a hint"
expect_rc 2 "unknown option" "$BONE" score --model x --data y --bogus
expect_rc 2 "bad integer" "$BONE" init --config x --out y --seed abc
expect_rc 2 "unknown method" "$BONE" train --model x --data y --out z --method dora
# every command listed by `bone --help`; a listing that lost its commands fails here instead of
# looping zero times (13 today, from init to bench; at least these 13 must stay listed)
ncmd=0
for c in $("$BONE" --help | awk '/^commands:/{f=1; next} f && NF {print $1}'); do
    ncmd=$((ncmd + 1))
    expect_rc 0 "bone $c --help" "$BONE" "$c" --help
    contains "$W/out" "example" "bone $c --help has an example"
    expect_rc 0 "bone help $c" "$BONE" help "$c"
done
require_at_least "commands listed by bone --help" "$ncmd" 13 && ok "bone --help lists $ncmd commands"

# init (f32 and bf16)
expect_rc 0 "init f32" "$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/m32" --seed 3
expect_rc 0 "init bf16" "$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/m16" --seed 3 --dtype bf16
s32=$(stat -c %s "$W/m32/model.safetensors"); s16=$(stat -c %s "$W/m16/model.safetensors")
if [ $((s32 / 2 - s16)) -lt 4096 ] && [ $((s32 / 2 - s16)) -gt -4096 ]; then ok "bf16 file is half the size"; else bad "bf16 size $s16 vs f32 $s32"; fi
contains "$W/m16/config.json" '"torch_dtype":	"bfloat16"' "bf16 config records its dtype"

# data: 12 examples of varied lengths, some masked prompts, some without labels
for i in $(seq 0 11); do
    n=$((3 + (i * 7) % 17))
    ids=$(seq 1 $n | awk -v i=$i '{printf "%s%d", (NR>1?",":""), (NR*31 + i*17) % 500 + 3}')
    if [ $((i % 3)) -eq 0 ]; then echo "{\"input_ids\":[$ids]}"
    else lab=$(echo "$ids" | awk -F, '{for (k=1;k<=NF;k++) printf "%s%s", (k>1?",":""), (k<=2?-100:$k)}'); echo "{\"input_ids\":[$ids],\"labels\":[$lab]}"; fi
done >"$W/data.jsonl"

# padding must not change the loss: batch 1 (no padding) vs batch 5 (padding) vs batch 12
l1=$("$BONE" score --model "$W/m32" --data "$W/data.jsonl" --batch 1 --json)
l5=$("$BONE" score --model "$W/m32" --data "$W/data.jsonl" --batch 5 --json)
l12=$("$BONE" score --model "$W/m32" --data "$W/data.jsonl" --batch 12 --json)
same=$(awk -v a="$l1" -v b="$l5" -v c="$l12" 'BEGIN{
    split(a,x,/[:,}]/); split(b,y,/[:,}]/); split(c,z,/[:,}]/);
    d1=x[2]-y[2]; d2=x[2]-z[2]; if (d1<0) d1=-d1; if (d2<0) d2=-d2;
    print (d1 < 1e-6*x[2] && d2 < 1e-6*x[2] && x[4]==y[4] && x[4]==z[4]) ? "yes" : "no"}')
[ "$same" = yes ] && ok "padding does not change the loss ($l1 / $l5 / $l12)" || bad "padding changes the loss: $l1 $l5 $l12"

# training is deterministic for a fixed seed, and its output model loads
for r in a b; do
    expect_rc 0 "train full run $r" "$BONE" train --model "$W/m32" --data "$W/data.jsonl" --method full --out "$W/run$r" \
        --steps 4 --batch 3 --accum 2 --lr 1e-3 --seed 9 --quiet --overwrite
done
if cmp -s <(grep -o '"loss": [^,]*' "$W/runa/metrics.jsonl") <(grep -o '"loss": [^,]*' "$W/runb/metrics.jsonl"); then
    ok "same seed, same losses"; else bad "two runs with the same seed differ"; fi
[ "$(wc -l <"$W/runa/metrics.jsonl")" -eq 4 ] && ok "one metrics line per step" || bad "metrics.jsonl line count"
contains "$W/runa/metrics.jsonl" '"elapsed_s"' "metrics has elapsed_s"
expect_rc 0 "score the trained model" "$BONE" score --model "$W/runa/model" --data "$W/data.jsonl" --json
expect_rc 0 "train full on a bf16 model" "$BONE" train --model "$W/m16" --data "$W/data.jsonl" --method full --out "$W/run16" \
    --steps 2 --batch 4 --quiet
contains "$W/run16/model/config.json" '"torch_dtype":	"bfloat16"' "full fine-tune of a bf16 model is saved in bf16"

# options files: JSON and TOML; flags on the command line override them
printf '{"method": "full", "steps": 2, "lr": 0.002, "batch": 3, "no-shuffle": true, "quiet": true}\n' >"$W/opts.json"
expect_rc 0 "train with --options JSON" "$BONE" train --options "$W/opts.json" --model "$W/m32" --data "$W/data.jsonl" --out "$W/runj"
[ "$(wc -l <"$W/runj/metrics.jsonl")" -eq 2 ] && ok "JSON options: 2 steps" || bad "JSON options not applied"
contains "$W/runj/run.json" '"lr": 0.002' "JSON options: lr applied"
contains "$W/runj/run.json" '"shuffle": false' "JSON options: boolean flag applied"
printf '# a TOML options file\nmethod = "lora"\nrank = 4\nsteps = 5   # overridden below\nquiet = true\n[ignored]\n' >"$W/opts.toml"
expect_rc 0 "train with --config TOML and an overriding flag" "$BONE" train --config "$W/opts.toml" --steps 1 \
    --model "$W/m32" --data "$W/data.jsonl" --out "$W/runt"
[ "$(wc -l <"$W/runt/metrics.jsonl")" -eq 1 ] && ok "flag overrides the file (1 step, not 5)" || bad "override"
contains "$W/runt/run.json" '"rank": 4' "TOML options: rank applied"
printf 'steps = \n' >"$W/bad.toml"
expect_rc 2 "bad TOML line" "$BONE" train --options "$W/bad.toml" --model "$W/m32" --data "$W/data.jsonl" --out "$W/x"
contains "$W/err" "bad.toml:1" "options-file error names file:line"
printf '{"bogus": 1}' >"$W/bad.json"
expect_rc 2 "unknown option in a JSON file" "$BONE" train --options "$W/bad.json" --model "$W/m32" --data "$W/data.jsonl" --out "$W/x"

# plots: each run writes loss.svg; bone plot draws several runs with a legend
[ -f "$W/runa/loss.svg" ] && ok "run directory has loss.svg" || bad "no loss.svg in the run directory"
expect_rc 0 "bone plot two runs" "$BONE" plot first="$W/runa" "$W/runb" --out "$W/cmp.svg" --x tokens
/usr/bin/python3 - "$W/cmp.svg" >"$W/out" 2>&1 <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
lines = root.findall(ns + "polyline")
texts = [t.text for t in root.iter(ns + "text")]
assert len(lines) == 2, lines
assert all(len(l.get("points").split()) == 4 for l in lines), "4 points per run"
assert "first" in texts and "runb (full)" in texts, texts
assert "tokens" in texts
print("svg ok")
PY
contains "$W/out" "svg ok" "plot SVG parses, has a curve per run and the legend labels"
expect_rc 1 "plot of a missing run" "$BONE" plot "$W/nope" --out "$W/x.svg"

# bad files: clear errors naming the file (exit 1)
mkdir -p "$W/broken" && cp "$W/m32/config.json" "$W/broken/"
head -c 1000 "$W/m32/model.safetensors" >"$W/broken/model.safetensors"
expect_rc 1 "truncated model file" "$BONE" score --model "$W/broken" --data "$W/data.jsonl"
contains "$W/err" "broken/model.safetensors" "message names the truncated file"
printf '{"input_ids":[1,2,3]}\n{"input_ids":[1,2,\n' >"$W/bad.jsonl"
expect_rc 1 "malformed data line" "$BONE" score --model "$W/m32" --data "$W/bad.jsonl"
contains "$W/err" "bad.jsonl:2" "message names file:line"
printf '{"input_ids":[1,2,3]}\n{"ids":[1,2]}\n' >"$W/bad2.jsonl"
expect_rc 1 "missing field" "$BONE" score --model "$W/m32" --data "$W/bad2.jsonl"
contains "$W/err" 'fields present: "ids"' "message lists the fields present"
printf '{"input_ids":[1,2,999999]}\n' >"$W/bad3.jsonl"
expect_rc 1 "id outside the vocabulary" "$BONE" score --model "$W/m32" --data "$W/bad3.jsonl"
contains "$W/err" "outside the vocabulary" "message says outside the vocabulary"
sed -E 's/"num_hidden_layers":[[:space:]]*4/"num_hidden_layers": 5/' "$W/m32/config.json" >"$W/broken/config.json"
cp "$W/m32/model.safetensors" "$W/broken/model.safetensors"
expect_rc 1 "config disagrees with the weights" "$BONE" score --model "$W/broken" --data "$W/data.jsonl"
contains "$W/err" "model.layers.4" "message names the missing tensor"

t_end
