#!/usr/bin/env bash
# test_threads.sh — bone's thread policy (src/core/threads.c): with nothing set it picks the
# thread count (affinity mask, cgroup quota) and passive waiting itself and says so in
# --verbose and --version; OMP_NUM_THREADS, OMP_WAIT_POLICY and GOMP_SPINCOUNT given by the
# user are kept. Nothing is timed (bench/threads.sh measures). usage: test_threads.sh BONE SOURCE_DIR
set -u
BONE=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
t_begin threads
has() { # NAME TEXT PATTERN
    if grep -qE -- "$3" <<<"$2"; then ok "$1"; else bad "$1: expected /$3/ in: $2"; fi
}
unset OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT BONE_THREADS_SET BONE_REEXEC BONE_CGROUP_ROOT
ncpu=$(nproc)

# the default policy, reported by --verbose (stderr, before the command's own output)
out=$("$BONE" --verbose generate --model "$SRC/models/default" --prompt "One" --max-new 2 2>&1 >/dev/null)
has "--verbose names the wait policy bone set" "$out" "wait policy passive \(set by bone\)"
has "--verbose names the thread count from the affinity mask" "$out" \
    "$ncpu threads? \(affinity $ncpu CPUs, [^;]*; set by bone\)"
out2=$("$BONE" generate --verbose --model "$SRC/models/default" --prompt "One" --max-new 2 2>&1 >/dev/null)
has "--verbose is accepted among a command's options" "$out2" "wait policy passive"
"$BONE" generate --model "$SRC/models/default" --prompt "One" --max-new 2 2>"$W/err" >/dev/null
[ ! -s "$W/err" ] && ok "without --verbose nothing is printed" || bad "stderr without --verbose: $(cat "$W/err")"

# the user's settings win, and are reported as the user's
out=$(OMP_NUM_THREADS=1 OMP_WAIT_POLICY=active "$BONE" --version)
has "OMP_NUM_THREADS from the user is kept" "$out" "1 thread \(affinity $ncpu CPUs, [^;]*; OMP_NUM_THREADS from the user\)"
has "OMP_WAIT_POLICY from the user is kept" "$out" "wait policy active \(OMP_WAIT_POLICY from the user\)"
out=$(GOMP_SPINCOUNT=300000 "$BONE" --version)
has "GOMP_SPINCOUNT from the user is kept (no passive policy added)" "$out" "GOMP_SPINCOUNT=300000 from the user"
# the environment the running process really has (the re-exec carried bone's settings)
out=$("$BONE" --verbose inspect "$SRC/models/default" 2>&1 >/dev/null)
has "inspect under --verbose too" "$out" "wait policy passive"

# a cgroup CPU quota caps the thread count (a fake cgroup root with cpu.max = half a CPU)
mkdir -p "$W/cg"
echo "50000 100000" >"$W/cg/cpu.max"
out=$(BONE_CGROUP_ROOT="$W/cg" "$BONE" --version)
has "a cgroup quota of 0.5 CPU gives 1 thread" "$out" "1 thread \(affinity $ncpu CPUs, cgroup quota 0.5; set by bone\)"
echo "max 100000" >"$W/cg/cpu.max"
out=$(BONE_CGROUP_ROOT="$W/cg" "$BONE" --version)
has "cpu.max \"max\" is no quota" "$out" "$ncpu threads? \(affinity $ncpu CPUs, no cgroup quota; set by bone\)"
# a smaller affinity mask: taskset to one CPU
if command -v taskset >/dev/null; then
    out=$(taskset -c 0 "$BONE" --version)
    has "an affinity mask of one CPU gives 1 thread" "$out" "1 thread \(affinity 1 CPUs"
fi

# --version: version, commit (or "unknown"), compute path
out=$("$BONE" --version)
has "--version names version and commit" "$out" "^bone [0-9]+\.[0-9]+\.[0-9]+ \(git commit ([0-9a-f]{7,}(-dirty)?|unknown)\)"
has "--version names the OpenBLAS kernel" "$out" "OpenBLAS kernel [A-Za-z0-9]+"
has "--version says whether AVX-512 runs" "$out" "AVX-512: (yes|no|built)"
t_end
