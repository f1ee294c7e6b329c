#!/usr/bin/python3
"""train_tokenizer.py — trains the byte-level BPE tokenizer of bone's embedded default model
and writes it as a Hugging Face tokenizer.json (+ tokenizer_config.json).

The tokenizer is the Qwen2 design at a small scale: Split by the Qwen2 regex (every digit its
own word, which suits arithmetic), the GPT-2 byte-to-character mapping, BPE merges learned by
pair frequency, and one special token <|endoftext|> used as EOS and padding (no BOS, like
Qwen2). Deterministic: ties between equally frequent pairs break by the pair itself.

usage: train_tokenizer.py CORPUS.txt OUT_DIR VOCAB_SIZE
Needs Debian's python3-regex (for \\p{L}, \\p{N}).
"""
import collections
import json
import sys

import regex

# The Qwen2 pre-tokenizer pattern (FORMATS.md §4.6), as it appears in tokenizer.json.
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIAL = "<|endoftext|>"


def byte_to_char():
    """GPT-2's reversible byte → printable character map (FORMATS.md §4.7)."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def train(text, vocab_size):
    b2c = byte_to_char()
    pat = regex.compile(QWEN2_RE)
    counts = collections.Counter()
    for doc in text.split(SPECIAL):
        for m in pat.finditer(doc):
            counts["".join(b2c[b] for b in m.group(0).encode("utf-8"))] += 1
    words = [list(w) for w in counts]
    freq = [counts[w] for w in counts]
    # pair statistics and, per pair, the words it occurs in
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    vocab = [b2c[b] for b in range(256)]
    merges = []
    target = vocab_size - 1  # room for the special token
    while len(vocab) < target and pairs:
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        (a, b), n = best
        if n < 2:
            break
        merged = a + b
        merges.append((a, b))
        vocab.append(merged)
        for i in list(where[(a, b)]):
            w = words[i]
            # remove this word's old pairs, merge, add its new pairs
            for p in zip(w, w[1:]):
                pairs[p] -= freq[i]
                if pairs[p] <= 0:
                    del pairs[p]
                where[p].discard(i)
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for p in zip(out, out[1:]):
                pairs[p] += freq[i]
                where[p].add(i)
        where.pop((a, b), None)
    return vocab, merges


def main():
    corpus, out_dir, vocab_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    text = open(corpus, encoding="utf-8").read()
    vocab, merges = train(text, vocab_size)
    ids = {tok: i for i, tok in enumerate(vocab)}
    special_id = len(vocab)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": special_id, "content": SPECIAL, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_RE}, "behavior": "Isolated", "invert": False},
            byte_level]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": ids, "merges": [[a, b] for a, b in merges]},
    }
    with open(out_dir + "/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None, "eos_token": SPECIAL,
           "pad_token": SPECIAL, "unk_token": None, "add_bos_token": False, "add_eos_token": False,
           "clean_up_tokenization_spaces": False, "model_max_length": 512}
    with open(out_dir + "/tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    print(f"vocab {special_id + 1} ({len(merges)} merges), special {SPECIAL} = {special_id}")


if __name__ == "__main__":
    main()
