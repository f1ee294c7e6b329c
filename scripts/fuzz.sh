#!/usr/bin/env bash
# fuzz.sh — configures and builds the libFuzzer targets (tests/fuzz, clang, ASan+UBSan) in
# build-fuzz, replays every committed regression input, then fuzzes each target for
# $BONE_FUZZ_SECONDS (default 60) from its seed corpus, $BONE_FUZZ_JOBS (default 2) targets at a
# time. Any crash, leak, UB report, timeout (hang) or oversized allocation fails the script;
# the input that caused it is kept under $BONE_FUZZ_OUT (default build-fuzz/fuzz-out)/artifacts.
# $BONE_FUZZ_SEED (default: unset, libFuzzer picks a new seed each run) fixes the mutation
# sequence: CI sets it so that a submission is judged on the same exploration every time (the
# time limit still decides how far it gets); an exploratory run before submitting leaves it unset
# so each run explores somewhere new.
# usage: scripts/fuzz.sh [TARGET...]   (targets: the fuzz_*.c names without fuzz_; default all)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${BONE_FUZZ_BUILD:-$SRC/build-fuzz}
SECONDS_EACH=${BONE_FUZZ_SECONDS:-60}
JOBS=${BONE_FUZZ_JOBS:-2}
OUT=${BONE_FUZZ_OUT:-$BUILD/fuzz-out}

command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (scripts/install-deps.sh)"; exit 1; }
echo "== configure + build ($BUILD)"
CC=clang cmake -S "$SRC" -B "$BUILD" -DBONE_FUZZ=ON -DBONE_SANITIZE=ON -DBONE_NATIVE=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target fuzz -j"$(nproc)"

if [ $# -gt 0 ]; then targets=("$@")
else targets=(); for f in "$SRC"/tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done; fi

rm -rf "$OUT"
mkdir -p "$OUT"
SCRATCH=$(mktemp -d /tmp/bone-fuzz.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export BONE_FUZZ_TMP=$SCRATCH OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -timeout: one input running longer is a hang; -malloc_limit_mb: one allocation larger is a
# finding (parsers must cap sizes); -rss_limit_mb: the whole process
FLAGS=(-timeout=10 -malloc_limit_mb=512 -rss_limit_mb=2048 -print_final_stats=1)
[ -n "${BONE_FUZZ_SEED:-}" ] && FLAGS+=(-seed="$BONE_FUZZ_SEED")

run_one() { # name → 0 when clean
    local t=$1 bin="$BUILD/tests/fuzz/fuzz_$1" log="$OUT/$1.log"
    local corpus="$SRC/tests/fuzz/corpus/$t" regr="$SRC/tests/fuzz/regressions/$t"
    mkdir -p "$OUT/artifacts/$t" "$OUT/work/$t"
    : >"$log"
    # 1. every committed regression input, one by one
    local inputs=()
    [ -d "$regr" ] && while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$regr" -type f ! -name '*.md' -print0)
    if [ ${#inputs[@]} -gt 0 ]; then
        if ! "$bin" "${FLAGS[@]}" "${inputs[@]}" >>"$log" 2>&1; then
            echo "FAIL $t: a regression input fails again (see $log)"; return 1
        fi
    fi
    # 2. fuzz from the seeds (new inputs go to a scratch corpus, never into the committed one)
    local dict=()
    case $t in llama2c_model|pth|rwkv_vocab|gguf) ;; *) dict=(-dict="$SRC/tests/fuzz/json.dict") ;; esac
    if ! "$bin" "${FLAGS[@]}" "${dict[@]}" -max_total_time="$SECONDS_EACH" -artifact_prefix="$OUT/artifacts/$t/" \
        "$OUT/work/$t" "$corpus" >>"$log" 2>&1; then
        echo "FAIL $t: finding in $OUT/artifacts/$t/ (log $log):"
        grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -8
        return 1
    fi
    local runs secs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')
    secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}' || echo '?')
    echo "ok   $t: $runs executions in ${secs}s, ${#inputs[@]} regression input(s) replayed"
}
export -f run_one
export BUILD SRC OUT
export FLAGS_STR="${FLAGS[*]}"

echo "== fuzzing ${targets[*]}: ${SECONDS_EACH}s each, $JOBS at a time, seed ${BONE_FUZZ_SEED:-random}"
status=0
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'FLAGS=($FLAGS_STR); SECONDS_EACH='"$SECONDS_EACH"' run_one {}' \
    >"$OUT/summary.txt" 2>&1 || status=1
cat "$OUT/summary.txt"
if [ $status -ne 0 ] || grep -q '^FAIL' "$OUT/summary.txt"; then
    echo "fuzz.sh: FINDINGS (inputs under $OUT/artifacts; fix, then add each to tests/fuzz/regressions/<target>/)"
    exit 1
fi
echo "fuzz.sh: no findings"
