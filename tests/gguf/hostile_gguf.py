#!/usr/bin/env python3
"""hostile_gguf.py — writes the hostile GGUF files of tests/gguf/test_gguf_hostile.sh into DIR,
one per case (DIR/<case>.gguf), each one defect away from a valid file. Standard library only."""
import os, struct, sys

def gs(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(x)) + x

def gguf(kvs, tensors, align=32, version=3, magic=b"GGUF", nkv=None, nt=None, cut=None):
    out = magic + struct.pack("<IQQ", version, len(tensors) if nt is None else nt, len(kvs) if nkv is None else nkv)
    for k, raw in kvs:
        out += gs(k) + raw
    off, data = 0, b""
    for name, ne, t, raw, o in tensors:
        out += gs(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", t, off if o is None else o)
        pad = (align - len(raw) % align) % align
        data += raw + b"\0" * pad
        off += len(raw) + pad
    out += b"\0" * ((align - len(out) % align) % align)
    out += data
    return out[:cut] if cut else out

u32 = lambda v: struct.pack("<II", 4, v)
st = lambda s: struct.pack("<I", 8) + gs(s)
ARCH = ("general.architecture", st("llama"))
T = ("a", [4], 0, b"\0" * 16, None)
cases = {
    "truncated": b"GGUF\x03\x00\x00\x00",
    "bad-magic": gguf([ARCH], [T], magic=b"GGML"),
    "version-2": gguf([ARCH], [T], version=2),
    "kv-count-huge": gguf([ARCH], [T], nkv=1 << 60),
    "tensor-count-huge": gguf([ARCH], [T], nt=1 << 40),
    "string-past-end": gguf([ARCH, ("k", struct.pack("<IQ", 8, 1000) + b"x")], []),
    "string-2e40": gguf([(ARCH[0], struct.pack("<IQ", 8, 1 << 40))], []),
    "value-type-13": gguf([ARCH, ("k", struct.pack("<I", 13) + b"\0" * 8)], []),
    "nested-array": gguf([ARCH, ("k", struct.pack("<IIQ", 9, 9, 1) + struct.pack("<IQ", 4, 0))], []),
    "array-2e31": gguf([ARCH, ("k", struct.pack("<IIQ", 9, 4, 1 << 31))], []),
    "bool-2": gguf([ARCH, ("k", struct.pack("<IB", 7, 2))], []),
    "duplicate-key": gguf([ARCH, ARCH], []),
    "alignment-48": gguf([ARCH, ("general.alignment", u32(48))], [T]),
    "alignment-u64": gguf([ARCH, ("general.alignment", struct.pack("<IQ", 10, 32))], [T]),
    "dims-5": gguf([ARCH], [("a", [1, 1, 1, 1, 4], 0, b"\0" * 16, None)]),
    "elements-overflow": gguf([ARCH], [("a", [1 << 40, 1 << 40], 0, b"", None)]),
    "tensor-type-99": gguf([ARCH], [("a", [4], 99, b"\0" * 16, None)]),
    "q8_0-row-16": gguf([ARCH], [("a", [16], 8, b"\0" * 34, None)]),
    "offset-gap": gguf([ARCH], [("a", [4], 0, b"\0" * 16, 32)]),
    "data-past-end": gguf([ARCH], [("a", [64], 0, b"\0" * 256, None)], cut=-100),
    "duplicate-tensor": gguf([ARCH], [T, T]),
    "name-64-bytes": gguf([ARCH], [("n" * 64, [4], 0, b"\0" * 16, None)]),
}
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, data in cases.items():
    with open(os.path.join(d, name + ".gguf"), "wb") as f:
        f.write(data)
print(" ".join(cases))
