#!/usr/bin/python3
"""make_seeds_pth.py — writes the seed corpora of fuzz_pth and fuzz_rwkv_vocab into
tests/fuzz/corpus/{pth,rwkv_vocab}/ (committed; rerun only to regenerate). Needs torch
(/usr/bin/python3) for the .pth seeds: real torch.save output, so the fuzzer starts from the exact
layout torch writes (zip64 end record, data descriptors, 'FB' padding, memo opcodes)."""
import collections, io, os, zipfile
import torch

ROOT = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def saved(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


g = torch.Generator().manual_seed(1)
sd = collections.OrderedDict()
sd["emb.weight"] = torch.randn(3, 4, generator=g).bfloat16()
both = torch.randn(8, generator=g).bfloat16()
sd["blocks.0.ln1.weight"], sd["blocks.0.ln1.bias"] = both[:4], both[4:]
sd["blocks.0.att.time_maa_x"] = torch.randn(1, 1, 4, generator=g).bfloat16()
sd["blocks.0.att.time_decay"] = torch.randn(1, 1, 4, generator=g)
sd["blocks.0.att.time_faaaa"] = torch.randn(2, 2, generator=g).half()
sd._metadata = collections.OrderedDict([("", {"version": 1})])
for name, obj in [("state_dict", sd), ("plain_dict", {"a": torch.ones(2, 3).bfloat16()}), ("empty", {})]:
    raw = saved(obj)
    put("pth", name, b"\x00" + raw)  # mode 0: the whole file
    z = zipfile.ZipFile(io.BytesIO(raw))
    pk = [n for n in z.namelist() if n.endswith("data.pkl")][0]
    # mode 1: the pickle alone; storage keys 0..3 exist in the wrapper (64 bytes each)
    put("pth", name + "_pickle", b"\x01" + z.read(pk))

lines = open(os.path.join(ROOT, "..", "..", "data", "rwkv-world", "rwkv_vocab_v20230424.txt"), "rb").read().split(b"\n")
put("rwkv_vocab", "real_257_400", b"\n".join(lines[256:400]) + b"\n\x00Hello world, the city of \xe4\xb8\xad\xe6\x96\x87")
put("rwkv_vocab", "escapes", "257 '\\x80' 2\n258 '\\u4e2d\\n' 4\n259 \"it's\" 4\n260 b'\\xe4\\xb8' 2\n261 '\\t\\r\\\\' 3\n"
    "262 '\\U0001F600' 4\n\x00it's \t\r\\ \U0001F600".encode())
put("rwkv_vocab", "crlf", b"257 'ab' 2\r\n258 'abc' 3\r\n\x00abcab")
