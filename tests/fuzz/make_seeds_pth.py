#!/usr/bin/python3
"""make_seeds_pth.py — writes the seed corpora of fuzz_pth and fuzz_rwkv_vocab into
tests/fuzz/corpus/{pth,rwkv_vocab}/ (committed; rerun only to regenerate). Needs torch
(/usr/bin/python3) for the .pth seeds: real torch.save output, so the fuzzer starts from the exact
layout torch writes (zip64 end record, data descriptors, 'FB' padding, memo opcodes); and the
state_dict seed re-laid with zip64 records by Python's zipfile (local zip64 extra fields; 0xFFFFFFFF
placeholders with zip64 extra fields everywhere and the zip64 end record; streamed, with 24-byte
data descriptors), so the fuzzer explores the zip64 paths."""
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



class Stream:  # write-only: zipfile writes data descriptors
    def __init__(self):
        self.b = io.BytesIO()

    def write(self, x):
        return self.b.write(x)

    def flush(self):
        pass


def zip64_of(raw, limit, stream=False, placeholders=False):
    """raw's entries stored again by zipfile with zip64: force_zip64 local extra fields, and with
    zipfile's limit lowered to `limit` the central placeholders and the zip64 end record."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    old = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limit, (0 if limit < 0 else old[1])
    try:
        f = Stream() if stream else io.BytesIO()
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            for info in src.infolist():
                with z.open(zipfile.ZipInfo(info.filename), "w", force_zip64=True) as w:
                    w.write(src.read(info.filename))
        out = bytearray((f.b if stream else f).getvalue())
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = old
    if placeholders:  # the 32-bit end record as bone's forced zip64 writes it
        out[-14:-2] = b"\xff" * 12
    return bytes(out)


raw = saved(sd)
put("pth", "state_dict_zip64_local", b"\x00" + zip64_of(raw, zipfile.ZIP64_LIMIT))
put("pth", "state_dict_zip64_all", b"\x00" + zip64_of(raw, -1, placeholders=True))
put("pth", "state_dict_zip64_stream", b"\x00" + zip64_of(raw, zipfile.ZIP64_LIMIT, stream=True))

lines = open(os.path.join(ROOT, "..", "..", "data", "rwkv-world", "rwkv_vocab_v20230424.txt"), "rb").read().split(b"\n")
put("rwkv_vocab", "real_257_400", b"\n".join(lines[256:400]) + b"\n\x00Hello world, the city of \xe4\xb8\xad\xe6\x96\x87")
put("rwkv_vocab", "escapes", "257 '\\x80' 2\n258 '\\u4e2d\\n' 4\n259 \"it's\" 4\n260 b'\\xe4\\xb8' 2\n261 '\\t\\r\\\\' 3\n"
    "262 '\\U0001F600' 4\n\x00it's \t\r\\ \U0001F600".encode())
put("rwkv_vocab", "crlf", b"257 'ab' 2\r\n258 'abc' 3\r\n\x00abcab")
