#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages bone needs to build and test, when they
# are missing (Debian 12, run as root). Idempotent: does nothing when all are present.
#   build:  cmake, gcc, pkg-config, OpenBLAS (OpenMP build) + LAPACKE, cJSON, PCRE2, utf8proc
#   bench:  libtcmalloc-minimal4 (the tuned PyTorch peer of bench/bench.sh)
#   tests:  python3-torch + numpy (the PyTorch oracle), nodejs + npm (tokenizer fixtures and
#           the @huggingface/tokenizers oracle), clang + libclang-rt (sanitizers, fuzzing)
set -euo pipefail
PKGS=(build-essential cmake pkg-config git
      libopenblas0-openmp libopenblas-openmp-dev liblapacke-dev
      libcjson-dev libpcre2-dev libutf8proc-dev
      python3 python3-torch python3-numpy
      clang libclang-rt-14-dev
      libtcmalloc-minimal4)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node + npm: this machine kind may ship its own Node.js (which bundles npm and conflicts
# with Debian's npm package); use Debian's only when there is no npm at all
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
