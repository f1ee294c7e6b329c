#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages bone needs, when they are missing (Debian 12,
# as root or through sudo). Idempotent: does nothing when all are present.
#   scripts/install-deps.sh build   to build and run bone (what `make` and `make demo` need):
#          cmake, gcc, pkg-config, git, OpenBLAS (OpenMP build) + LAPACKE, cJSON, PCRE2, utf8proc,
#          Open MPI (optional for bone: data-parallel `mpirun -np N bone train`; CI tests it)
#          oneDNN (the GEMM backend for --compute bf16; fp32 too)
#   scripts/install-deps.sh test    build + what the test suite needs (`make test`, `make asan`,
#          `make fuzz`): python3-torch + numpy (the PyTorch oracle), nodejs + npm (tokenizer
#          fixtures and the @huggingface/tokenizers oracle), clang + libclang-rt (sanitizers,
#          fuzzing), and node-llama-cpp from npm into .deps/ (scripts/install-node-llama.sh:
#          tests/gguf's real llama.cpp). python3-torch alone pulls in ~150 packages (OpenCV, GDAL, Qt5...).
#   scripts/install-deps.sh bench   build + libtcmalloc-minimal4 (bench/bench.sh's PyTorch peer)
#   scripts/install-deps.sh [all]   all of the above (no argument: all, as CI calls it)
set -euo pipefail
SET=${1:-all}
BUILD=(build-essential cmake pkg-config git
       libopenblas0-openmp libopenblas-openmp-dev liblapacke-dev
       libcjson-dev libpcre2-dev libutf8proc-dev
       libopenmpi-dev openmpi-bin libdnnl-dev)
TEST=(python3 python3-torch python3-numpy clang libclang-rt-14-dev)
BENCH=(python3 python3-torch python3-numpy libtcmalloc-minimal4)
case $SET in
build) PKGS=("${BUILD[@]}") ;;
test) PKGS=("${BUILD[@]}" "${TEST[@]}") ;;
bench) PKGS=("${BUILD[@]}" "${BENCH[@]}") ;;
all) PKGS=("${BUILD[@]}" "${TEST[@]}" "${BENCH[@]}") ;;
*) echo "usage: scripts/install-deps.sh [build|test|bench|all]   (got \"$SET\")" >&2; exit 2 ;;
esac
missing=()
for p in "${PKGS[@]}"; do
    case " ${missing[*]} " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node + npm (test set): this machine kind may ship its own Node.js (which bundles npm and
# conflicts with Debian's npm package); use Debian's only when there is no npm at all
if [ "$SET" = test ] || [ "$SET" = all ]; then
    command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
fi
# test set: node-llama-cpp (the real llama.cpp client of tests/gguf) into the git-ignored
# .deps/ of this checkout; a failure (no npm registry) only warns: those tests then SKIP loudly
node_llama() {
    if [ "$SET" = test ] || [ "$SET" = all ]; then
        bash "$(dirname "$0")/install-node-llama.sh" ||
            echo "install-deps: WARNING: node-llama-cpp not installed; tests/gguf's llama.cpp checks will be skipped" >&2
    fi
}
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps ($SET): all packages present"
    node_llama
    exit 0
fi
echo "install-deps ($SET): installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
node_llama
