#!/usr/bin/env bash
# test_hostile_data.sh — regressions for the data, adapter, loss and output-path findings of
# shared/reviews/hostile-use-2026-12.md (B1, B11-B13, B16, B25, P6, P7, P10-P13, P31, P32,
# P35): each case builds the hostile input, runs the real binary and checks the exit status
# and the message (or the number) the user gets. usage: test_hostile_data.sh BONE SOURCE_DIR
set -u
BONE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
W=$(mktemp -d /tmp/bone-hostile.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# case_ NAME EXIT NEEDLE command... : runs the command in W, checks exit status and stderr
case_() {
    local name=$1 want=$2 needle=$3
    shift 3
    (cd "$W" && "$@") >"$W/out" 2>"$W/err"
    local rc=$?
    local msg
    msg=$(sed "s#$W/#W/#g; s#$W#W#g" "$W/err" | tr '\n' ' ' | sed 's/ *$//')
    if [ "$rc" -eq "$want" ] && grep -qF -- "$needle" "$W/err"; then
        ok "$name: $msg"
    else
        bad "$name: exit $rc (want $want), wanted \"$needle\" in: $msg $(head -c 300 "$W/out")"
    fi
}
loss() { sed -E 's/.*"loss": ([^,}]*).*/\1/'; }
# poke DIR TENSOR INDEX VALUE : sets one element of a tensor of DIR/model.safetensors (any float dtype)
poke() {
    python3 - "$@" <<'PY'
import json, struct, sys
d, name, idx, val = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
p = d + "/model.safetensors" if not d.endswith(".safetensors") else d
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
t = h[name]
if t["dtype"] == "F32":
    o = 8 + n + t["data_offsets"][0] + 4 * idx; b[o:o + 4] = struct.pack("<f", val)
elif t["dtype"] == "BF16":
    o = 8 + n + t["data_offsets"][0] + 2 * idx; b[o:o + 2] = struct.pack("<f", val)[2:]
else:
    o = 8 + n + t["data_offsets"][0] + 2 * idx; b[o:o + 2] = struct.pack("<e", val)
open(p, "wb").write(b)
PY
}

"$BONE" init --config "$SRC/configs/tiny-llama.json" --out "$W/m" --seed 3 >/dev/null || { echo "FAIL init"; exit 1; }
awk 'BEGIN { srand(5); for (n = 0; n < 16; n++) { s = ""; k = 8 + int(rand() * 16);
             for (t = 0; t < k; t++) s = s (t ? "," : "") (3 + int(rand() * 500)); print "{\"input_ids\":[" s "]}" } }' \
    >"$W/tok.jsonl"
base=$("$BONE" score --model "$W/m" --data "$W/tok.jsonl" --json | loss)
[ -n "$base" ] || { echo "FAIL base score"; exit 1; }

# ---- B12, P35: a NaN or Inf weight gives an error (exit 1) naming the tensor, not a finite loss
for v in nan inf; do
    cp -r "$W/m" "$W/m-$v"
    poke "$W/m-$v" model.layers.0.self_attn.q_proj.weight 5 "$v"
    case_ "B12 score, $v in q_proj" 1 "model.layers.0.self_attn.q_proj.weight[5]" \
        "$BONE" score --model "$W/m-$v" --data "$W/tok.jsonl" --json
done
cp -r "$W/m" "$W/m-norm"
poke "$W/m-norm" model.norm.weight 0 nan
case_ "P35 score, nan in model.norm" 1 "model.norm.weight[0]" "$BONE" score --model "$W/m-norm" --data "$W/tok.jsonl"

# ---- B16: nothing to score is an error, not {"loss": nan}
echo '{"input_ids": [5, 6, 7], "labels": [-100, -100, -100]}' >"$W/allign.jsonl"
case_ "B16 score --json, no label tokens" 1 "no label tokens to score" \
    "$BONE" score --model "$W/m" --data "$W/allign.jsonl" --json
grep -q nan "$W/out" && bad "B16: stdout has nan: $(cat "$W/out")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
