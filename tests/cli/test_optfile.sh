#!/usr/bin/env bash
# test_optfile.sh — errors about options files (src/cli/optfile.c, args.c) name the file, and
# for TOML the line: a misspelt key (issue 15), a bad value (hostile-use P22), a string for a
# flag (P23), a key given twice (P24), a byte-order mark (P25). All are usage errors (exit 2)
# found before anything is loaded. usage: test_optfile.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
t_begin optfile
cd "$W"
expect() { # NAME RC MESSAGE-SUBSTRING FILE [extra args]
    local name=$1 want=$2 msg=$3 f=$4
    shift 4
    "$BONE" train --options "$f" --model "$SRC/models/default" --data "$SRC/data/gsm8k/test.jsonl" \
        --method lora --out "$W/run" "$@" >/dev/null 2>err
    local rc=$?
    if [ "$rc" -eq "$want" ] && grep -qF -- "$msg" err; then ok "$name"
    else bad "$name: rc $rc (want $want), stderr: $(head -c 300 err) (want: $msg)"; fi
}
printf 'steps = 1\n\nmodle = "models/default"\n' >typo.toml
expect "an unknown key in TOML names file:line" 2 "typo.toml:3: unknown option --modle" typo.toml
echo '{"steps": 1, "modle": "x"}' >typo.json
expect "an unknown key in JSON names the file" 2 "typo.json: unknown option --modle" typo.json
echo '{"steps": "abc"}' >p22.json
expect "P22: a bad value names the file" 2 'p22.json: --steps expects an integer, got "abc"' p22.json
printf 'lr = abc\n' >p22.toml
expect "P22: a bad value in TOML names file:line" 2 'p22.toml:1: --lr expects a number, got "abc"' p22.toml
"$BONE" train --lr abc --model "$SRC/models/default" --data x --method lora --out r 2>err >/dev/null
grep -qF 'bone train: --lr expects a number' err && ok "a bad value on the command line names no file" ||
    bad "command-line bad value: $(cat err)"
echo '{"no_shuffle": "yes"}' >p23.json
expect "P23: a string for a flag (JSON)" 2 'p23.json: "no_shuffle" is a flag; use true/false' p23.json
printf 'no-shuffle = "yes"\n' >p23.toml
expect "P23: a string for a flag (TOML)" 2 'p23.toml:1: "no-shuffle" is a flag; use true/false' p23.toml
echo '{"steps": 3, "steps": 4}' >p24.json
expect "P24: a duplicate key in JSON" 2 'p24.json: "steps" given twice' p24.json
printf 'steps = 3\nlr = 1e-3\nsteps = 4\n' >p24.toml
expect "P24: a duplicate key in TOML" 2 'p24.toml:3: "steps" given twice (also at p24.toml:1)' p24.toml
printf 'no_shuffle = true\nno-shuffle = false\n' >p24b.toml
expect "P24: the same option spelt two ways" 2 'p24b.toml:2: "no-shuffle" given twice (also at p24b.toml:1)' p24b.toml
# P25: a BOM is skipped; the file then works (steps 0 is refused by train: proves the key was read)
printf '\xef\xbb\xbfsteps = 1\nmodle = "x"\n' >p25.toml
expect "P25: a TOML file with a BOM: keys read, errors clean" 2 'p25.toml:2: unknown option --modle' p25.toml
printf '\xef\xbb\xbf{"modle": "x"}' >p25.json
expect "P25: a JSON file with a BOM" 2 'p25.json: unknown option --modle' p25.json
printf '\xef\xbb\xbfsteps = 1\nquiet = true\ndry_run = true\n' >good.toml
"$BONE" train --options good.toml --model "$SRC/models/default" --data "$SRC/data/gsm8k/test.jsonl" \
    --method lora --out "$W/run" >out 2>err && ok "P25: a TOML file with a BOM is accepted" ||
    bad "BOM file refused: $(head -c 300 err)"
t_end
