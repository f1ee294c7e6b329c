#!/usr/bin/python3
"""pth_zip64_big.py — manual check (not in CI): a real zip64 .pth written by torch.save itself, read by bone.

torch writes zip64 extra fields only once an entry or an offset reaches 4 GiB, so a small test cannot
make one. Here torch.save writes {a, big, b, c} where `big` is a 4 GiB + 4 KiB bf16 tensor over an
anonymous mmap that is never written (so it costs no memory: its pages are the kernel's zero page),
and the file sink turns that one 4 GiB write into a hole (a sparse file: ~no disk). Entries after it
start past 4 GiB, so the file has every zip64 form torch writes: size and offset extra fields, 24-byte
data descriptors, the zip64 end record with 0xFFFFFFFF placeholders. The script prints that layout,
then `pth_tool dump` must give a, b, c byte-equal to torch's tensors and `big` as all zeros.
Costs: ~4 GiB of page cache while bone reads the hole, a few seconds of CRC on each side.
usage: pth_zip64_big.py PTH_TOOL WORK_DIR
"""
import mmap, os, struct, subprocess, sys, time, zipfile
import torch

TOOL, WORK = sys.argv[1:3]
os.makedirs(WORK, exist_ok=True)
path = os.path.join(WORK, "torch_zip64.pth")
BIG = (4 << 30) + 4096  # bytes: past 0xFFFFFFFF


class HoleSink:
    """A file object for torch.save: the one write of `big` (known zeros) becomes a hole."""
    def __init__(self, f):
        self.f, self.holes = f, 0

    def write(self, b):
        n = len(b)
        if n >= BIG:
            self.f.seek(n, os.SEEK_CUR)
            self.holes += 1
        else:
            self.f.write(b)
        return n

    def flush(self):
        self.f.flush()


g = torch.Generator().manual_seed(3)
mm = mmap.mmap(-1, BIG)
d = {"a": torch.randn(7, 5, generator=g).bfloat16(),
     "big": torch.frombuffer(mm, dtype=torch.bfloat16),
     "b": torch.randn(3, 4, generator=g),
     "c": torch.randn(6, generator=g).half()}
t0 = time.time()
with open(path, "wb") as f:
    sink = HoleSink(f)
    torch.save(d, sink)
    f.truncate()
assert sink.holes == 1, "the big storage was not written in one piece"
print(f"torch.save: {os.path.getsize(path)} bytes apparent, {os.stat(path).st_blocks * 512} on disk, {time.time() - t0:.1f} s")

# the layout torch wrote
raw_end = open(path, "rb")
size = os.path.getsize(path)
raw_end.seek(size - 98)
tail = raw_end.read(98)
print("end record:", tail[-22:].hex(), "| locator present:", tail[-42:-38] == b"PK\x06\x07")
z = zipfile.ZipFile(path)
for info in z.infolist():
    raw_end.seek(info.header_offset)
    h = raw_end.read(30)
    flags = struct.unpack("<H", h[6:8])[0]
    lcs, lus, lnl, lxl = struct.unpack("<IIHH", h[18:30])
    raw_end.seek(info.header_offset + 30 + lnl)
    x = raw_end.read(lxl)
    raw_end.seek(info.header_offset + 30 + lnl + lxl + info.file_size)
    desc = raw_end.read(24).hex() if flags & 8 else None
    fields, k = [], 0
    while k + 4 <= len(x):
        fid, fl = struct.unpack("<HH", x[k:k + 4])
        fields.append((hex(fid), fl, [struct.unpack("<Q", x[k + 4 + j:k + 12 + j])[0] for j in range(0, fl, 8)] if fid == 1 else None))
        k += 4 + fl
    print(f"{info.filename}: offset {info.header_offset}, size {info.file_size}, local flags 0x{flags:x}, "
          f"local sizes {lcs}/{lus}, local extras {fields}, descriptor {desc}, central extra {info.extra.hex()[:80]}")

t0 = time.time()
p = subprocess.run([TOOL, "dump", path], capture_output=True, text=True)
print(f"pth_tool dump: exit {p.returncode}, {time.time() - t0:.1f} s {p.stderr.strip()}")
fail = p.returncode != 0
got = {l.split("\t")[0]: l.split("\t")[1:] for l in p.stdout.splitlines()}
STD = {torch.bfloat16: "BF16", torch.float32: "F32", torch.float16: "F16"}
for k, t in d.items():
    if k == "big":
        ok = got.get(k, [None])[0] == "BF16" and got[k][1] == str(BIG // 2) and got[k][2].startswith("nonzero=0 ")
    else:
        b = (t.view(torch.int16) if t.dtype != torch.float32 else t).numpy().tobytes()
        ok = got.get(k) == [STD[t.dtype], ",".join(map(str, t.shape)), b.hex()]
    print(f"{k}: {'equal' if ok else 'DIFFERS'}")
    fail |= not ok
os.remove(path)
sys.exit(1 if fail else 0)
