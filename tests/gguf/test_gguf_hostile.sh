#!/usr/bin/env bash
# test_gguf_hostile.sh — `bone inspect FILE.gguf` on hostile GGUF files (tests/gguf/hostile_gguf.py:
# each one defect away from a valid file): exit 1 with the message docs/bad-inputs.md lists, under
# a timeout (a hang fails); and a valid file (the fuzz seed) is summarised.
# usage: test_gguf_hostile.sh BONE SOURCE_DIR PYTHON
set -u
BONE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$2
PY=${3:-/usr/bin/python3}
. "$SRC/tests/cli/lib.sh"
t_begin gguf-hostile
CASE_TIMEOUT=20
"$PY" "$SRC/tests/gguf/hostile_gguf.py" "$W/h" >/dev/null || { bad "hostile_gguf.py"; t_fatal; }
while IFS='|' read -r name needle; do
    case_ "gguf-$name" 1 "$needle" "$BONE" inspect "$W/h/$name.gguf"
done <<'CASES'
truncated|8 bytes; a GGUF file starts with a 24-byte header (magic, version, counts)
bad-magic|not a GGUF file (the first 4 bytes are not "GGUF")
version-2|GGUF version 2; bone reads version 3
kv-count-huge|metadata_kv_count 1152921504606846976 cannot fit in the 160-byte file
tensor-count-huge|tensor_count 1099511627776 cannot fit in the 160-byte file
string-past-end|value of "k" at byte 90 needs 1000 bytes but the file ends at 96
string-2e40|has length 1099511627776; at most 2^30 accepted
value-type-13|value of "k" has unknown type 13 (0 to 12 exist)
nested-array|value of "k" is an array of arrays; arrays of scalars or strings are supported
array-2e31|value of "k" is an array of 2147483648 elements; at most 2^30 accepted
bool-2|value of "k" is a bool of value 2 (0 or 1)
duplicate-key|metadata key "general.architecture" appears twice
alignment-48|general.alignment = 48 is not a power of two
alignment-u64|general.alignment has type u64; it must be u32
dims-5|tensor "a" has 5 dimensions (1 to 4)
elements-overflow|tensor "a": element count overflows (dimension 1 is 1099511627776)
tensor-type-99|tensor "a" has ggml type 99, which bone does not know
q8_0-row-16|tensor "a": ne[0] = 16 is not a multiple of Q8_0's block of 32
offset-gap|tensor "a" has data offset 32; expected 0 (tensors are stored in table order, each padded to 32 bytes)
data-past-end|the tensor data needs 256 bytes from byte 128 but the file has 284
duplicate-tensor|tensor "a" appears twice
name-64-bytes|tensor 0's name has length 64 (1 to 63 bytes, as ggml)
CASES
n=$(ls "$W/h" | wc -l)
[ "$n" -eq 22 ] && ok "all 22 hostile files were checked" || bad "hostile_gguf.py wrote $n files; this test checks 22"
cp "$SRC/tests/fuzz/corpus/gguf/model" "$W/seed.gguf"
run_ok "inspect a valid GGUF" "$BONE" inspect "$W/seed.gguf" --json && {
    contains "$W/out" '"architecture":	"llama"' "inspect names the architecture"
    contains "$W/out" '"name":	"blk.0.ffn_up.weight"' "inspect lists the tensors"
    contains "$W/out" '"type":	"Q8_0"' "inspect names tensor types"
    contains "$W/out" '"tokenizer.ggml.tokens":	"[3 x string]"' "inspect summarises arrays"
}
t_end
