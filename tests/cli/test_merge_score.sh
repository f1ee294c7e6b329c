#!/usr/bin/env bash
# test_merge_score.sh — for every method: train a few steps, then score(base + adapter)
# must equal score(merged model) within fp32 tolerance, and the saved adapter must reload
# (score through --adapter twice gives the same number). usage: test_merge_score.sh BONE SRC
set -u
BONE=$1
SRC=$2
. "$(dirname "$0")/lib.sh"
t_begin merge
loss() { sed -E 's/.*"loss": ([^,}]*).*/\1/'; }
run_ok "init" "$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/base" --seed 7 || t_fatal
awk 'BEGIN { srand(9); for (n = 0; n < 24; n++) { s = ""; for (t = 0; t < 40; t++) s = s (t ? "," : "") (3 + int(rand()*500));
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
for spec in "bone-col --block 16" "bone-row --block 16" "bone-grid --block 16 --grid 2x2" "bone-hadamard --block 16" \
            "bone-free --block 16" "bone-free --block 24" "lora --rank 4 --alpha 8" "pissa --rank 4" "olora --rank 4"; do
    set -- $spec
    m=$1
    tag=$(echo "$spec" | tr ' ' '_')
    "$BONE" train --model "$W/base" --data "$W/data.jsonl" --method "$@" --out "$W/$tag" --steps 3 --batch 4 \
        --lr 2e-2 --quiet 2>"$W/err" || { bad "$spec: train: $(cat "$W/err")"; continue; }
    "$BONE" merge --model "$W/base" --adapter "$W/$tag/adapter" --out "$W/$tag-merged" >/dev/null 2>"$W/err" \
        || { bad "$spec: merge: $(cat "$W/err")"; continue; }
    a=$("$BONE" score --model "$W/base" --adapter "$W/$tag/adapter" --data "$W/data.jsonl" --json | loss)
    a2=$("$BONE" score --model "$W/base" --adapter "$W/$tag/adapter" --data "$W/data.jsonl" --json | loss)
    b=$("$BONE" score --model "$W/$tag-merged" --data "$W/data.jsonl" --json | loss)
    c=$("$BONE" score --model "$W/base" --data "$W/data.jsonl" --json | loss)
    require_number "$spec: score(base+adapter)" "$a" && require_number "$spec: second score(base+adapter)" "$a2" \
        && require_number "$spec: score(merged)" "$b" && require_number "$spec: score(base)" "$c" || continue
    # the saved adapter reloads the same way each time: the two scores through --adapter are equal
    [ "$a" = "$a2" ] && ok "$spec: the adapter reloads: score through --adapter twice gives $a both times" \
        || bad "$spec: score through --adapter gave $a, then $a2"
    r=$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { d = a - b; if (d < 0) d = -d; e = a - c; if (e < 0) e = -e;
          print (d <= 2e-5 * a && e > 1e-3) ? "ok" : "bad" }')
    [ "$r" = ok ] && ok "$spec: score(base+adapter) $a == score(merged) $b (base $c)" \
        || bad "$spec: score(base+adapter) $a vs merged $b (base $c)"
done
t_end
