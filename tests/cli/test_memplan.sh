#!/usr/bin/env bash
# test_memplan.sh — the memory plan printed by `bone train --dry-run` must be within 15% of
# the peak RSS measured by the same run (metrics.jsonl peak_rss_mib), for several methods
# and shapes; a plan above --mem-limit refuses to start with a clear message.
# usage: test_memplan.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
t_begin plan
sed -e 's/"num_hidden_layers": [0-9]*/"num_hidden_layers": 2/' -e 's/"vocab_size": 32000/"vocab_size": 8000/' \
    "$SRC/bench/configs/small.json" >"$W/small.json"
run_ok "init" "$BONE" init --config "$W/small.json" --out "$W/small" --seed 1 || t_fatal
run_ok "init bf16" "$BONE" init --config "$W/small.json" --out "$W/small16" --seed 1 --dtype bf16 || t_fatal
awk 'BEGIN { srand(3); for (n = 0; n < 8; n++) { s = ""; for (t = 0; t < 256; t++) s = s (t ? "," : "") int(rand()*8000);
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
for spec in "small lora --rank 8" "small lora --rank 8 --recompute" "small bone-col --block 16" "small full" "small16 bone-col --block 16" "small16 lora --rank 8"; do
    set -- $spec
    model=$1
    shift
    tag=$(echo "$spec" | tr ' ' '_')
    # both numbers come from commands that must succeed: an empty or NaN comparison is a failure
    run_ok "$spec: --dry-run" "$BONE" train --model "$W/$model" --data "$W/data.jsonl" --method "$@" --out "$W/$tag" \
        --batch 4 --dry-run || continue
    est=$(awk '/total/ {print $(NF-1)}' "$W/out")
    run_ok "$spec: training run" "$BONE" train --model "$W/$model" --data "$W/data.jsonl" --method "$@" --out "$W/$tag" \
        --batch 4 --steps 2 --quiet || continue
    got=$(tail -n 1 "$W/$tag/metrics.jsonl" | grep -o '"peak_rss_mib": [0-9.]*' | grep -o '[0-9.]*$')
    require_number "$spec: planned MiB" "$est" && require_number "$spec: measured MiB" "$got" || continue
    r=$(awk -v a="$est" -v b="$got" 'BEGIN { d = (a - b) / b; if (d < 0) d = -d; printf "%.3f", d }')
    if awk -v r="$r" 'BEGIN { exit !(r <= 0.15) }'; then ok "$spec: plan $est MiB, measured $got MiB (off by $r)"
    else bad "$spec: plan $est MiB, measured $got MiB (off by $r > 0.15)"; fi
done
"$BONE" train --model "$W/small" --data "$W/data.jsonl" --method full --out "$W/limit" --batch 4 --mem-limit 50 2>"$W/err"
[ $? -eq 1 ] && grep -q "needs about" "$W/err" && ok "a plan over --mem-limit refuses: $(tail -n 1 "$W/err" | head -c 150)" \
    || bad "mem-limit: $(cat "$W/err")"
[ ! -e "$W/limit/metrics.jsonl" ] && ok "nothing written when refused" || bad "files written despite refusal"
t_end
