#!/usr/bin/python3
"""pth_zip64_3b.py — manual check (not in CI; ~25 GB of disk, ~7 GB of memory at the torch step): the
RWKV-6 3B round trip through .pth files over 4 GiB, i.e. with zip64.

1. A random bf16 RWKV-6 3B HF directory (configs/rwkv6-3b.json; names and shapes of FORMATS.md §6.6/6.7
   written out here), written tensor by tensor (memory: one tensor).
2. `bone export rwkv-pth` → m.pth (6.2 GB: bone's zip64 writer); its zip64 layout is printed.
3. torch.load(m.pth, weights_only=True): every tensor equals the safetensors original; torch.save of
   that dict → t.pth (torch's own zip64 file).
4. `bone convert rwkv-pth` of m.pth and of t.pth: every tensor of each model.safetensors has the
   original's sha256.
bone commands run under /usr/bin/time -v (wall time and peak RSS printed). Everything is deleted at the end.
usage: pth_zip64_3b.py BONE REPO_DIR WORK_DIR [CONFIG]   (CONFIG: configs/rwkv6-3b.json; a tiny one checks the script)
"""
import hashlib, json, mmap, os, re, resource, shutil, struct, subprocess, sys, time
import numpy as np
import torch

BONE, REPO, WORK = sys.argv[1:4]
os.makedirs(WORK)
cfg = json.load(open(sys.argv[4] if len(sys.argv) > 4 else os.path.join(REPO, "configs", "rwkv6-3b.json")))
L, C, V = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["vocab_size"]
HS = cfg["head_size"]
H, F = C // HS, int((C * 3.5) // 32 * 32)
DM, DD = (64, 128) if C == 4096 else (32, 64)
FAIL = []


def official():  # (name, shape) in the official file's order (FORMATS.md §6.6)
    out = [("emb.weight", [V, C])]
    for i in range(L):
        b = f"blocks.{i}."
        if i == 0:
            out += [(b + "ln0.weight", [C]), (b + "ln0.bias", [C])]
        out += [(b + n, [C]) for n in ["ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"]]
        out += [(b + f"att.time_maa_{x}", [1, 1, C]) for x in "xwkvrg"]
        out += [(b + "att.time_maa_w1", [C, 5 * DM]), (b + "att.time_maa_w2", [5, DM, C]), (b + "att.time_decay", [1, 1, C]),
                (b + "att.time_decay_w1", [C, DD]), (b + "att.time_decay_w2", [DD, C]), (b + "att.time_faaaa", [H, HS])]
        out += [(b + f"att.{n}.weight", [C, C]) for n in ["receptance", "key", "value", "gate", "output"]]
        out += [(b + "att.ln_x.weight", [C]), (b + "att.ln_x.bias", [C]), (b + "ffn.time_maa_k", [1, 1, C]),
                (b + "ffn.time_maa_r", [1, 1, C]), (b + "ffn.key.weight", [F, C]), (b + "ffn.receptance.weight", [C, C]),
                (b + "ffn.value.weight", [C, F])]
    return out + [("ln_out.weight", [C]), ("ln_out.bias", [C]), ("head.weight", [V, C])]


def hf_name(n):  # FORMATS.md §6.7
    if n == "head.weight":
        return n
    n = n.replace("emb.", "embeddings.", 1) if n.startswith("emb.") else n
    return "rwkv." + n.replace("blocks.0.ln0.", "blocks.0.pre_ln.").replace(".att.", ".attention.").replace(".ffn.", ".feed_forward.")


def st_hashes(path):  # {name: (shape, sha256 of its bytes)}, read through a mapping that is closed after
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        (hl,) = struct.unpack("<Q", m[:8])
        hdr = json.loads(m[8:8 + hl])
        hdr.pop("__metadata__", None)
        out = {}
        for k, v in hdr.items():
            a, b = v["data_offsets"]
            h = hashlib.sha256()
            for q in range(8 + hl + a, 8 + hl + b, 1 << 26):
                h.update(m[q:min(q + (1 << 26), 8 + hl + b)])
            out[k] = (v["shape"], h.hexdigest())
        return out


def sha(b):
    return hashlib.sha256(b).hexdigest()


def timed(args):
    t0 = time.time()
    p = subprocess.run(["nice", "/usr/bin/time", "-v"] + args, capture_output=True, text=True)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    print(f"  {' '.join(os.path.basename(a) if '/' in a else a for a in args)}: exit {p.returncode}, "
          f"{time.time() - t0:.1f} s, peak RSS {int(rss.group(1)) / 1e6 if rss else 0:.2f} GB")
    if p.returncode:
        print(p.stdout, p.stderr)
        FAIL.append(args[1])
    return p


# 1. the HF directory
names = official()
mdir = os.path.join(WORK, "m")
os.makedirs(mdir)
json.dump(dict(cfg, torch_dtype="bfloat16"), open(os.path.join(mdir, "config.json"), "w"))
hdr, off = {}, 0
for n, s in names:
    nb = 2 * int(np.prod(s))
    hdr[hf_name(n)] = {"dtype": "BF16", "shape": s, "data_offsets": [off, off + nb]}
    off += nb
h = json.dumps(hdr).encode()
h += b" " * ((8 - len(h) % 8) % 8)
t0 = time.time()
g = torch.Generator().manual_seed(5)
with open(os.path.join(mdir, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for n, s in names:
        f.write((torch.randn(*s, generator=g) * 0.02).bfloat16().view(torch.int16).numpy().tobytes())
print(f"1. HF directory: {len(names)} tensors, {off / 1e9:.2f} GB of bf16 data, {time.time() - t0:.1f} s")
t0 = time.time()
want = st_hashes(os.path.join(mdir, "model.safetensors"))
print(f"   sha256 of every tensor: {time.time() - t0:.1f} s")

# 2. export
mp = os.path.join(WORK, "m.pth")
timed([BONE, "export", "rwkv-pth", "--model", mdir, "--out", mp])
size = os.path.getsize(mp)
with open(mp, "rb") as f:
    f.seek(size - 98)
    tail = f.read(98)
print(f"2. m.pth: {size} bytes ({size / 2**30:.2f} GiB); end record {tail[-22:].hex()}; zip64 locator "
      f"{tail[-42:-38] == b'PK' + bytes([6, 7])}; zip64 end record {tail[:4] == b'PK' + bytes([6, 6])}")

# 3. torch.load, compare, torch.save
t0 = time.time()
sd = torch.load(mp, weights_only=True)
print(f"3. torch.load(weights_only=True): {len(sd)} tensors, {time.time() - t0:.1f} s, "
      f"peak RSS of this script {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
bad = [n for n, s in names if n not in sd or list(sd[n].shape) != s or sd[n].dtype != torch.bfloat16 or
       sha(sd[n].view(torch.int16).numpy().tobytes()) != want[hf_name(n)][1]]
print(f"   names in order: {list(sd) == [n for n, _ in names]}; tensors differing from the safetensors: {len(bad)} {bad[:3]}")
if bad or list(sd) != [n for n, _ in names]:
    FAIL.append("torch.load")
tp = os.path.join(WORK, "t.pth")
t0 = time.time()
torch.save(sd, tp)
del sd
with open(tp, "rb") as f:
    f.seek(os.path.getsize(tp) - 42)
    tt = f.read(42)
print(f"   torch.save → t.pth: {os.path.getsize(tp)} bytes, {time.time() - t0:.1f} s; end record {tt[-22:].hex()}")

# 4. convert both back
for label, src in [("m.pth (bone's zip64)", mp), ("t.pth (torch's zip64)", tp)]:
    out = os.path.join(WORK, "c")
    print(f"4. convert {label}:")
    p = timed([BONE, "convert", "rwkv-pth", src, "--out", out, "--vocab", os.path.join(REPO, "data", "rwkv-world")])
    if p.returncode == 0:
        got = st_hashes(os.path.join(out, "model.safetensors"))
        diff = [k for k in want if got.get(k) != want[k]]
        print(f"   {len(got)} tensors; differing from the original (shape or sha256): {len(diff)} {diff[:3]}")
        if diff or len(got) != len(want):
            FAIL.append("convert " + label)
    shutil.rmtree(out, ignore_errors=True)
shutil.rmtree(WORK)
print("FAILED: " + ", ".join(FAIL) if FAIL else "ok: the 3B round trip through zip64 .pth files")
sys.exit(1 if FAIL else 0)
