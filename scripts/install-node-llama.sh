#!/usr/bin/env bash
# install-node-llama.sh — the real llama.cpp client that tests/gguf checks `bone export gguf`
# with: node-llama-cpp 3.21.1 from npm (it bundles a prebuilt llama.cpp; only the linux-x64 CPU
# build is installed, ~83 MB instead of ~730 MB with every GPU variant), into the git-ignored
# folder .deps/node-llama-cpp/ of this checkout (or $BONE_NODE_LLAMA_DIR). Idempotent: does
# nothing when that version is already there. Needs Node >= 20 and npm.
# Called by scripts/install-deps.sh (test set) and by tests/gguf when the folder is missing.
set -euo pipefail
VERSION=3.21.1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${BONE_NODE_LLAMA_DIR:-$ROOT/.deps/node-llama-cpp}
have() {
    [ -f "$DEST/node_modules/@node-llama-cpp/linux-x64/package.json" ] &&
        grep -q "\"version\": \"$VERSION\"" "$DEST/node_modules/node-llama-cpp/package.json" 2>/dev/null
}
if have; then echo "install-node-llama: node-llama-cpp $VERSION present in $DEST"; exit 0; fi
command -v npm >/dev/null || { echo "install-node-llama: npm not found" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge 20 ] || { echo "install-node-llama: node-llama-cpp needs Node >= 20 (found $(node --version 2>&1))" >&2; exit 1; }
mkdir -p "$DEST"
cd "$DEST"
[ -f package.json ] || echo '{"name": "bone-gguf-client", "private": true}' >package.json
# --ignore-scripts: no postinstall download/build; --omit=optional: no GPU builds
npm i -E --omit=optional --ignore-scripts --no-audit --no-fund "node-llama-cpp@$VERSION" "@node-llama-cpp/linux-x64@$VERSION"
have || { echo "install-node-llama: npm finished but node-llama-cpp $VERSION is not in $DEST" >&2; exit 1; }
echo "install-node-llama: installed node-llama-cpp $VERSION into $DEST"
