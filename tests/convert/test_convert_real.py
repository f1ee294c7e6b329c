"""test_convert_real.py — the tokenizer conversion on a real 32000-piece SentencePiece vocabulary.
Usage: test_convert_real.py BONE L2C_TOOL ORACLE_MJS GSM8K_DIR VECTORS WORKDIR
(the Mistral tokenizer and the oracle come from the tokfiles fixture: ${BONE_CACHE:-~/.cache/bone}/tokenizers)

A llama2.c tokenizer.bin is built from Mistral-7B's vocabulary (ids 0..258 as llama2.c has them;
score = -id for the other pieces, the SentencePiece-BPE convention that a later piece merges
later), next to a small legacy checkpoint with that vocabulary. After `bone convert`, three
encoders must agree on every string (GSM8K questions and answers, llama.cpp's SentencePiece test
inputs, random strings): run.c's encode (l2c_ref.py), bone's encoder on the converted
tokenizer.json, and @huggingface/tokenizers (the oracle) on the same tokenizer.json."""
import json
import os
import random
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import l2c_ref as R  # noqa: E402

BONE, TOOL, ORACLE, GSM, VEC, WORK = sys.argv[1:7]
CACHE = os.path.join(os.environ.get("BONE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "bone"), "tokenizers")
TJ = os.path.join(CACHE, "mistral", "tokenizer.json")
PKG = os.path.join(CACHE, "oracle", "node_modules", "@huggingface", "tokenizers")
os.makedirs(WORK, exist_ok=True)
tj = json.load(open(TJ, encoding="utf-8"))
vocab = tj["model"]["vocab"]
V = max(vocab.values()) + 1
pieces = [None] * V
for p, i in vocab.items():
    pieces[i] = p.replace("\u2581", " ")
base = R.base_pieces()
pieces[:259] = base
scores = [0.0] * 259 + [-float(i) for i in range(259, V)]
tokbin = os.path.join(WORK, "tokenizer.bin")
R.write_tokenizer_bin(tokbin, pieces, scores)
w = R.random_weights(np.random.default_rng(0), 8, 8, 1, 2, 2, V, True)
binp = os.path.join(WORK, "m.bin")
R.write_checkpoint(binp, w, 8, 8, 1, 2, 2, V, 64)
out = os.path.join(WORK, "m")
r = subprocess.run([BONE, "convert", "llama2c", binp, "--tokenizer", tokbin, "--out", out], capture_output=True)
print(r.stdout.decode().strip())
if r.returncode:
    print(r.stderr.decode())
    sys.exit(1)

texts = []
for name in ("test.jsonl",):
    for l in list(open(os.path.join(GSM, name), encoding="utf-8"))[:150]:
        q = json.loads(l)
        texts += [q["question"], q["answer"]]
raw = open(os.path.join(VEC, "ggml-vocab-llama-spm.gguf.inp"), encoding="utf-8").read()
# inputs mentioning the special-token texts are split out by HF (added tokens) but not by run.c
texts += [t for t in raw.split("\n__ggml_vocab_test__\n") if "<s>" not in t and "</s>" not in t and "<unk>" not in t]
random.seed(3)
alpha = list("abcdefghij klmnop   QRST 0123456789.,;:!?'\"()-\n\t") + ["é", "ü", "中", "国", "😀", "→", "ё", "\u00a0"]
texts += ["".join(random.choice(alpha) for _ in range(random.randint(1, 50))) for _ in range(200)]
strs = os.path.join(WORK, "strings.jsonl")
with open(strs, "w", encoding="utf-8") as f:
    for t in texts:
        f.write(json.dumps(t) + "\n")
r = subprocess.run([TOOL, "encode", out, strs], capture_output=True)
if r.returncode:
    print(r.stderr.decode())
    sys.exit(1)
bone = [list(map(int, l.split())) for l in r.stdout.decode().split("\n")[:len(texts)]]
inp = os.path.join(WORK, "inputs.json")
json.dump(texts, open(inp, "w", encoding="utf-8"))
orc = os.path.join(WORK, "oracle.json")
r = subprocess.run(["node", ORACLE, PKG, out, inp, orc, "0"], capture_output=True)
if r.returncode:
    print(r.stderr.decode())
    sys.exit(1)
hf = json.load(open(orc))
tb, ts = R.read_tokenizer_bin(tokbin, V)
ref = R.RunCTokenizer(tb, ts)
bad = 0
for t, b, h in zip(texts, bone, hf):
    e = ref.encode(t, False, False)
    if not (b == e == h):
        bad += 1
        if bad <= 5:
            print(f"MISMATCH {t!r}\n run.c {e}\n bone  {b}\n hf    {h}")
print(f"{len(texts) - bad}/{len(texts)} strings: run.c == bone == HF tokenizers")
sys.exit(1 if bad else 0)
