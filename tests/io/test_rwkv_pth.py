#!/usr/bin/python3
"""test_rwkv_pth.py — RWKV-6 .pth files against PyTorch (Debian's python3-torch), the independent reference.

1. A tiny random RWKV-6 state dict (2 layers, C=32, head size 16 so a hard-coded 64 fails, D_MIX=4,
   D_DECAY=8, F=96; bf16 with one f32 and one f16 tensor; ln1 weight/bias as views into one storage at
   an offset; an OrderedDict with _metadata like state_dict()) is torch.save'd; `bone convert rwkv-pth`
   turns it into an HF directory; every tensor of model.safetensors (read here with a few lines of
   struct/json, names mapped by the §6.7 rules written out here) equals torch's bytes; config.json
   carries the dimensions; the tokenizer loads and encodes "Hello world" as 33155 40213.
2. `export rwkv-pth` writes it back; torch.load(weights_only=True) reads it; every name, shape and
   value equals the original rounded to bf16.
3. `export rwkv-peft` of a bone-row and a bone-free adapter: RWKV-PEFT keys, shapes, bf16 values;
   bone-col is refused.
4. Hostile .pth files, each refused (exit 1) with a stable message, the zip64 ones among them.
5. zip64: the model laid out by Python's zipfile (an independent writer) with zip64 records (forced
   local extra fields; and with zipfile's limits lowered so every size, offset and the end record
   use them, as torch does past 4 GiB): bone reads every tensor equal to torch's, and converts each
   to the same model.safetensors. bone's writer forced to zip64 (pth_tool copy --zip64): the
   placeholders are where they should be, torch.load(weights_only=True) reads every tensor equal.
usage: test_rwkv_pth.py BONE EXPORT_TOOL DATA_DIR WORK_DIR PTH_TOOL
"""
import collections, io, json, os, pickle, shutil, struct, subprocess, sys, zipfile
import torch

BONE, TOOL, DATA, WORK, PTHTOOL = sys.argv[1:6]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
FAIL = []


def check(cond, msg):
    if not cond:
        FAIL.append(msg)
        print("FAIL:", msg)


def run(args, ok=True):
    p = subprocess.run(args, capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout, p.stderr)
    return p


# ---- 1. the model ------------------------------------------------------------------------------------
L, C, HS, DM, DD, F, V = 2, 32, 16, 4, 8, 96, 300
H = C // HS
g = torch.Generator().manual_seed(7)


def rnd(*shape, dt=torch.bfloat16):
    return (torch.randn(*shape, generator=g) * 0.5).to(dt)


sd = collections.OrderedDict()
sd["emb.weight"] = rnd(V, C)
for i in range(L):
    b = f"blocks.{i}."
    if i == 0:
        sd[b + "ln0.weight"], sd[b + "ln0.bias"] = rnd(C), rnd(C)
    both = rnd(2 * C)  # one storage, two tensors: the second at offset C
    sd[b + "ln1.weight"], sd[b + "ln1.bias"] = both[:C], both[C:]
    sd[b + "ln2.weight"], sd[b + "ln2.bias"] = rnd(C), rnd(C)
    for x in "xwkvrg":
        sd[b + f"att.time_maa_{x}"] = rnd(1, 1, C)
    sd[b + "att.time_maa_w1"] = rnd(C, 5 * DM)
    sd[b + "att.time_maa_w2"] = rnd(5, DM, C)
    sd[b + "att.time_decay"] = rnd(1, 1, C, dt=torch.float32)  # HF keeps this one in f32
    sd[b + "att.time_decay_w1"] = rnd(C, DD)
    sd[b + "att.time_decay_w2"] = rnd(DD, C)
    sd[b + "att.time_faaaa"] = rnd(H, HS, dt=torch.float16)
    for n in ["receptance", "key", "value", "gate", "output"]:
        sd[b + f"att.{n}.weight"] = rnd(C, C)
    sd[b + "att.ln_x.weight"], sd[b + "att.ln_x.bias"] = rnd(C), rnd(C)
    sd[b + "ffn.time_maa_k"], sd[b + "ffn.time_maa_r"] = rnd(1, 1, C), rnd(1, 1, C)
    sd[b + "ffn.key.weight"], sd[b + "ffn.receptance.weight"], sd[b + "ffn.value.weight"] = rnd(F, C), rnd(C, C), rnd(C, F)
sd["ln_out.weight"], sd["ln_out.bias"] = rnd(C), rnd(C)
sd["head.weight"] = rnd(V, C)
sd._metadata = collections.OrderedDict([("", {"version": 1})])  # as Module.state_dict() has: pickled with BUILD
pth = os.path.join(WORK, "tiny.pth")
torch.save(sd, pth)


def hf_name(n):  # FORMATS.md §6.7, written out as rules
    if n == "head.weight":
        return n
    n = n.replace("emb.", "embeddings.", 1) if n.startswith("emb.") else n
    n = n.replace("blocks.0.ln0.", "blocks.0.pre_ln.").replace(".att.", ".attention.").replace(".ffn.", ".feed_forward.")
    return "rwkv." + n


def read_safetensors(path):
    raw = open(path, "rb").read()
    (hl,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8:8 + hl])
    hdr.pop("__metadata__", None)
    base = 8 + hl
    return {k: (v["dtype"], v["shape"], raw[base + v["data_offsets"][0]:base + v["data_offsets"][1]]) for k, v in hdr.items()}


STD = {torch.bfloat16: "BF16", torch.float32: "F32", torch.float16: "F16"}


def tbytes(t):
    t = t.contiguous()
    return t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.bfloat16, torch.float16) else t.numpy().tobytes()


out = os.path.join(WORK, "hf")
p = run([BONE, "convert", "rwkv-pth", pth, "--out", out, "--vocab", DATA])
check(p.returncode == 0, f"convert failed: {p.stderr}")
if p.returncode == 0:
    st = read_safetensors(os.path.join(out, "model.safetensors"))
    check(len(st) == len(sd), f"{len(st)} tensors in model.safetensors, {len(sd)} in the .pth")
    for k, t in sd.items():
        got = st.get(hf_name(k))
        check(got is not None, f"{hf_name(k)} missing")
        if got is None:
            continue
        check(got[0] == STD[t.dtype], f"{k}: dtype {got[0]}, torch {t.dtype}")
        check(got[1] == list(t.shape), f"{k}: shape {got[1]}, torch {list(t.shape)}")
        check(got[2] == tbytes(t), f"{k}: bytes differ from torch's")
    cfg = json.load(open(os.path.join(out, "config.json")))
    want = dict(model_type="rwkv6", architectures=["Rwkv6ForCausalLM"], hidden_size=C, attention_hidden_size=C,
                head_size=HS, head_size_divisor=8, intermediate_size=F, num_hidden_layers=L, layer_norm_epsilon=1e-5,
                vocab_size=V, bos_token_id=0, eos_token_id=0, tie_word_embeddings=False)
    for k, v in want.items():
        check(cfg.get(k) == v, f"config.json {k} = {cfg.get(k)!r}, expected {v!r}")
    check(open(os.path.join(out, "rwkv_vocab_v20230424.txt"), "rb").read() ==
          open(os.path.join(DATA, "rwkv_vocab_v20230424.txt"), "rb").read(), "the vocabulary copy differs")
    p = run([BONE, "tokenize", "--tokenizer", out, "--text", "Hello world"])
    check(p.stdout.strip() == "33155 40213", f"tokenize in the converted directory: {p.stdout!r} {p.stderr!r}")
    # --json: pieces that are not UTF-8 on their own are shown as <0xHH>, so the output stays valid JSON
    p = run([BONE, "tokenize", "--tokenizer", out, "--text", "é😀", "--json"])
    j = json.loads(p.stdout.encode().decode("utf-8")) if p.returncode == 0 else {}
    check(j.get("ids") == [2503, 3319, 153, 129] and j.get("tokens") == ["é", "<0xF0><0x9F>", "<0x98>", "<0x80>"],
          f"tokenize --json: {p.stdout!r}")
    # chat data with the rwkv template (the tokenizer's default): "User: q\n\nAssistant: a\n\n" + id 0, the loss
    # on " a\n\n" and the 0; counts from gen_vectors.py's own parser and greedy trie (an independent encoder)
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, DATA)
    import gen_vectors
    trie = gen_vectors.GreedyTrie(gen_vectors.load_vocab(os.path.join(DATA, "rwkv_vocab_v20230424.txt")))
    chat = os.path.join(WORK, "chat.jsonl")
    msgs = [{"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "It is 5."},
            {"role": "user", "content": "And 2*3?"}, {"role": "assistant", "content": "6, 我想."}]
    open(chat, "w").write(json.dumps({"messages": msgs}) + "\n")
    full = "User: What is 2+3?\n\nAssistant: It is 5.\n\nUser: And 2*3?\n\nAssistant: 6, 我想.\n\n"
    ids = trie.encode_bytes(full.encode()) + [0]
    labels = len(trie.encode_bytes(" It is 5.\n\n".encode())) + len(trie.encode_bytes(" 6, 我想.\n\n".encode())) + 1
    p = run([BONE, "inspect", chat, "--tokenizer", out, "--json"])
    info = json.loads(p.stdout) if p.returncode == 0 else {}
    check(info.get("tokens", {}).get("total") == len(ids), f"chat data: {info.get('tokens')} tokens, expected {len(ids)}")
    check(info.get("label_tokens", {}).get("total") == labels, f"chat data: {info.get('label_tokens')} labels, expected {labels}")
    # converting onto an existing non-empty directory is refused, the directory is kept
    p = run([BONE, "convert", "rwkv-pth", pth, "--out", out, "--vocab", DATA], ok=False)
    check(p.returncode == 1 and "non-empty directory" in p.stderr, f"convert onto a full directory: {p.stderr}")
    check(os.path.exists(os.path.join(out, "model.safetensors")), "the existing directory was damaged")
    check(not [f for f in os.listdir(WORK) if ".tmp." in f], "a temporary directory was left behind")

    # ---- 2. export back ---------------------------------------------------------------------------
    back = os.path.join(WORK, "back.pth")
    p = run([TOOL, "rwkv-pth", "--model", out, "--out", back])
    check(p.returncode == 0, f"export failed: {p.stderr}")
    if p.returncode == 0:
        z = zipfile.ZipFile(back)
        for info in z.infolist():
            check(info.compress_type == 0, f"{info.filename} is compressed")
            if info.filename.startswith("archive/data/"):
                hdr = open(back, "rb").read()[info.header_offset:info.header_offset + 30]
                nl, xl = struct.unpack("<HH", hdr[26:30])
                check((info.header_offset + 30 + nl + xl) % 64 == 0, f"{info.filename}: data not 64-byte aligned")
        got = torch.load(back, weights_only=True)
        check(list(got.keys()) == list(sd.keys()), "export: names or their order differ from the official file's")
        for k, t in sd.items():
            if k not in got:
                continue
            check(got[k].dtype == torch.bfloat16, f"{k}: exported dtype {got[k].dtype}")
            check(got[k].shape == t.shape, f"{k}: exported shape {tuple(got[k].shape)} vs {tuple(t.shape)}")
            check(torch.equal(got[k], t.to(torch.bfloat16)), f"{k}: exported values differ")
        # --dtype f32: every tensor widened exactly (bf16/f16/f32 → f32 is lossless)
        b32 = os.path.join(WORK, "back32.pth")
        p = run([TOOL, "rwkv-pth", "--model", out, "--out", b32, "--dtype", "f32"])
        g32 = torch.load(b32, weights_only=True) if p.returncode == 0 else {}
        check(len(g32) == len(sd) and all(g32[k].dtype == torch.float32 and torch.equal(g32[k], t.float())
                                          for k, t in sd.items() if k in g32), f"export --dtype f32: {p.stderr}")
        # and bone reads its own export again (the reader accepts the writer's output)
        again = os.path.join(WORK, "again")
        p = run([BONE, "convert", "rwkv-pth", back, "--out", again, "--vocab", DATA])
        check(p.returncode == 0, f"re-converting the export: {p.stderr}")
    # an adapter that cannot be merged is reported, and the temporary merge directory is removed
    p = run([TOOL, "rwkv-pth", "--model", out, "--adapter", os.path.join(WORK, "no-such-adapter"), "--out",
             os.path.join(WORK, "merged.pth")], ok=False)
    check(p.returncode == 1 and "merging" in p.stderr, f"export with a missing adapter: {p.stderr}")
    check(not [f for f in os.listdir(WORK) if ".merge.tmp." in f], "the merge temporary was left behind")


# ---- 3. RWKV-PEFT slim adapters ------------------------------------------------------------------------
def write_st(path, tensors):
    hdr, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        hdr[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def adapter(name, cfg, tensors):
    d = os.path.join(WORK, name)
    os.makedirs(d)
    json.dump(cfg, open(os.path.join(d, "adapter_config.json"), "w"))
    write_st(os.path.join(d, "adapter_model.safetensors"), tensors)
    return d


r = 8
row = {"base_model.model.rwkv.blocks.0.attention.key.miss_block": torch.randn(C // r, r, r, generator=g),
       "base_model.model.rwkv.blocks.1.feed_forward.value.miss_block": torch.randn(F // r, r, r, generator=g)}
free = {"base_model.model.rwkv.blocks.1.attention.gate.miss_block": torch.randn(r, C, generator=g)}
base_cfg = {"peft_type": "MISS", "r": r, "target_modules": ["key", "value", "gate"]}
cases = [("row", dict(base_cfg, init_weights="bat", bone_variant="row"), row, "bat",
          {"blocks.0.att.key.disha": "base_model.model.rwkv.blocks.0.attention.key.miss_block",
           "blocks.1.ffn.value.disha": "base_model.model.rwkv.blocks.1.feed_forward.value.miss_block"}),
         ("free", dict(base_cfg, init_weights=True), free, "bone",
          {"blocks.1.att.gate.disha": "base_model.model.rwkv.blocks.1.attention.gate.miss_block"})]
for name, cfg, tens, mode, keys in cases:
    d = adapter("ad-" + name, cfg, tens)
    o = os.path.join(WORK, name + ".pth")
    p = run([TOOL, "rwkv-peft", "--adapter", d, "--out", o])
    check(p.returncode == 0 and f'"mode":"{mode}"' in p.stdout, f"rwkv-peft {name}: {p.stdout} {p.stderr}")
    if p.returncode == 0:
        got = torch.load(o, weights_only=True)
        check(sorted(got) == sorted(keys), f"rwkv-peft {name}: keys {sorted(got)}")
        for k, src in keys.items():
            if k in got:
                check(got[k].dtype == torch.bfloat16 and torch.equal(got[k], tens[src].to(torch.bfloat16)),
                      f"rwkv-peft {name}: {k} differs")
d = adapter("ad-col", dict(base_cfg, init_weights="bat"), {"base_model.model.rwkv.blocks.0.attention.key.miss_block":
                                                           torch.zeros(C // r, r, r)})
p = run([TOOL, "rwkv-peft", "--adapter", d, "--out", os.path.join(WORK, "col.pth")], ok=False)
check(p.returncode == 1 and "bone-col" in p.stderr and "has no RWKV-PEFT form" in p.stderr, f"bone-col: {p.stderr}")

# --adapter runs the merge `bone merge` runs. RWKV-6 models load for merging only once the RWKV-6 model code
# is in (another branch); until then the path is proven on the Llama default model: the merge succeeds, then
# the export refuses its names, and the temporary merged directory is removed either way.
DEF = os.path.join(DATA, "..", "..", "models", "default")
lcfg = json.load(open(os.path.join(DEF, "config.json")))
hd = lcfg["hidden_size"]
lad = adapter("ad-llama", {"peft_type": "LORA", "r": 4, "lora_alpha": 4, "target_modules": ["q_proj"]},
              {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.randn(4, hd, generator=g),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.randn(hd, 4, generator=g)})
p = run([TOOL, "rwkv-pth", "--model", DEF, "--adapter", lad, "--out", os.path.join(WORK, "llama.pth")], ok=False)
check(p.returncode == 1 and "merged 1 adapted linear layers" in p.stdout and "no tensor rwkv.embeddings.weight" in p.stderr,
      f"export --adapter on the Llama default model: {p.stdout} {p.stderr}")
check(not [f for f in os.listdir(WORK) if ".merge.tmp." in f], "the merge temporary was left behind (llama)")
check(not os.path.exists(os.path.join(WORK, "llama.pth")), "a .pth was written for a non-RWKV model")

# ---- 4. hostile files ----------------------------------------------------------------------------------
good = open(pth, "rb").read()


def zip_of(entries, method=zipfile.ZIP_STORED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for n, data in entries:
            z.writestr(zipfile.ZipInfo(n), data, compress_type=method)
    return b.getvalue()


def torch_entries(path):
    z = zipfile.ZipFile(path)
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


ents = torch_entries(pth)
pk = dict(ents)["tiny/data.pkl"]
small = collections.OrderedDict([("a", torch.ones(4, dtype=torch.bfloat16))])
sp = os.path.join(WORK, "small.pth")
torch.save(small, sp)
sents = torch_entries(sp)
spk = dict(sents)["small/data.pkl"]


def with_pickle(new_pk, base=sents, key="small/data.pkl"):
    return zip_of([(n, new_pk if n == key else d) for n, d in base])


evil_os = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."
evil_eval = b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1;\x85R."
legacy = io.BytesIO()
torch.save(small, legacy, _use_new_zipfile_serialization=False)
proto4 = io.BytesIO()
torch.save(small, proto4, pickle_protocol=4)
# tensor offset/size past its storage: the storage holds 4 elements, the pickle asks for 4 at offset 2
past = spk.replace(b"QK\x00K\x04\x85", b"QK\x02K\x04\x85")
assert past != spk
# a huge shape: size (2^40, 2^40), strides (2^40, 1); the memo opcodes between are kept
i40 = b"\x8a\x06\x00\x00\x00\x00\x00\x01"
hs = spk.find(b"QK\x00") + 3
he = spk.find(b"\x89", hs)
seg = spk[hs:he].replace(b"K\x04\x85", b"(" + i40 + i40 + b"t", 1).replace(b"K\x01\x85", b"(" + i40 + b"K\x01t", 1)
huge = spk[:hs] + seg + spk[he:]
assert huge != spk
# storage entry whose data runs past the end of the entries: patch the central directory size of data/0
sz = zip_of(sents)
cdo = struct.unpack("<I", sz[-6:-2])[0]
zz = bytearray(sz)
pos = cdo
while pos < len(zz) - 22:
    nl = struct.unpack("<H", zz[pos + 28:pos + 30])[0]
    if zz[pos + 46:pos + 46 + nl] == b"small/data/0":
        zz[pos + 20:pos + 28] = struct.pack("<II", 1 << 20, 1 << 20)
    pos += 46 + nl + struct.unpack("<H", zz[pos + 30:pos + 32])[0] + struct.unpack("<H", zz[pos + 32:pos + 34])[0]
# zip64: the 32-bit central directory offset is the 0xFFFFFFFF placeholder
z64 = bytearray(sz)
z64[-6:-2] = b"\xff\xff\xff\xff"
dup = zip_of(sents + [("small/data/0", b"\x00" * 8)])


# zip64 hostiles: byte surgery on bone's forced-zip64 copy of the small file, whose central entries
# all carry [usize, csize, header offset] in a zip64 extra field (placeholders in every 32-bit field)
def zparse(raw):
    eo = raw.rfind(b"PK\x05\x06")
    loc, z = eo - 20, eo - 76
    assert raw[loc:loc + 4] == b"PK\x06\x07" and raw[z:z + 4] == b"PK\x06\x06"
    cdsize, cdoff = struct.unpack("<QQ", raw[z + 40:z + 56])
    ents, pos = {}, cdoff
    while pos < cdoff + cdsize:
        nl, xl, cl = struct.unpack("<HHH", raw[pos + 28:pos + 34])
        name = raw[pos + 46:pos + 46 + nl].decode()
        ents[name] = dict(hdr=bytearray(raw[pos:pos + 46]), name=raw[pos + 46:pos + 46 + nl],
                          extra=bytearray(raw[pos + 46 + nl:pos + 46 + nl + xl]), comment=raw[pos + 46 + nl + xl:pos + 46 + nl + xl + cl])
        pos += 46 + nl + xl + cl
    return bytearray(raw[:cdoff]), ents, bytearray(raw[z:z + 56]), bytearray(raw[loc:loc + 20]), bytearray(raw[eo:])


def zbuild(body, ents, z64, loc, eocd):  # re-emits the central directory, the zip64 record and locator follow it
    cd = b"".join(bytes(e["hdr"][:30]) + struct.pack("<H", len(e["extra"])) + bytes(e["hdr"][32:]) + e["name"] +
                  bytes(e["extra"]) + e["comment"] for e in ents.values())
    z64, loc = bytearray(z64), bytearray(loc)
    z64[40:56] = struct.pack("<QQ", len(cd), len(body))
    loc[8:16] = struct.pack("<Q", len(body) + len(cd))
    return bytearray(bytes(body) + cd + bytes(z64) + bytes(loc) + bytes(eocd))


s64p = os.path.join(WORK, "small_z64.pth")
p = run([PTHTOOL, "copy", sp, s64p, "--zip64"])
check(p.returncode == 0, f"pth_tool copy --zip64 of the small file: {p.stderr}")
s64 = open(s64p, "rb").read() if p.returncode == 0 else b""


def z64_variant(fn):
    body, ents, z64r, loc, eocd = zparse(s64)
    e0 = ents["archive/data/0"]
    lho = struct.unpack("<Q", e0["extra"][20:28])[0]
    lx = lho + 30 + len(e0["name"]) + 4  # the local zip64 extra field's data: usize, csize
    fn(body, ents, e0, lx, z64r, loc, eocd)
    return bytes(zbuild(body, ents, z64r, loc, eocd))


def set_sizes(v, local=True):
    def fn(body, ents, e0, lx, z64r, loc, eocd):
        e0["extra"][4:20] = struct.pack("<QQ", v, v)
        if local:
            body[lx:lx + 16] = struct.pack("<QQ", v, v)
    return fn


def fn_offset(body, ents, e0, lx, z64r, loc, eocd): e0["extra"][20:28] = struct.pack("<Q", 1 << 40)
def fn_short(body, ents, e0, lx, z64r, loc, eocd): e0["extra"][:] = e0["extra"][:20]; e0["extra"][2:4] = b"\x10\x00"
def fn_overrun(body, ents, e0, lx, z64r, loc, eocd): e0["extra"][2:4] = struct.pack("<H", 40)
def fn_no_extra(body, ents, e0, lx, z64r, loc, eocd): e0["extra"][:] = b""
def fn_local(body, ents, e0, lx, z64r, loc, eocd): body[lx:lx + 16] = struct.pack("<QQ", 10, 10)
def fn_count(body, ents, e0, lx, z64r, loc, eocd): eocd[8:12] = struct.pack("<HH", 3, 3)  # 32-bit: 3, zip64: 4
def fn_huge_count(body, ents, e0, lx, z64r, loc, eocd): z64r[24:40] = struct.pack("<QQ", 1 << 40, 1 << 40)


z64_loc = bytearray(s64)
z64_loc[-22 - 20 + 8:-22 - 20 + 16] = struct.pack("<Q", 1 << 62)  # the locator points far outside the file
z64_hostile = [
    ("z64_size_past_eof", z64_variant(set_sizes(len(s64) * 2)), f"its {len(s64) * 2} bytes of data run past the end of the entries"),
    ("z64_offset_past_eof", z64_variant(fn_offset), "no local header at offset 1099511627776"),
    ("z64_extra_short", z64_variant(fn_short), "its central zip64 extra field holds 16 bytes, but the 3 fields set to 0xFFFFFFFF need exactly 24"),
    ("z64_extra_overrun", z64_variant(fn_overrun), "its central extra field 0x0001 claims 40 bytes, but only 24 remain"),
    ("z64_record_disagrees", z64_variant(fn_count), "its zip64 end record (4 entries"),
    ("z64_locator_outside", bytes(z64_loc), "locator points at offset 4611686018427387904, but the 56-byte zip64 end record must lie right before the locator"),
    ("z64_size_2p63", z64_variant(set_sizes(1 << 63)), "its 9223372036854775808 bytes of data run past the end of the entries"),
    ("z64_local_vs_central", z64_variant(fn_local), "its local zip64 extra field gives the sizes 10/10, the central directory 8/8"),
    ("z64_no_extra", z64_variant(fn_no_extra), "its central header sets 3 size/offset fields to the zip64 placeholder 0xFFFFFFFF but has no zip64 extra field"),
    ("z64_huge_count", z64_variant(fn_huge_count), "1099511627776 entries cannot fit in a"),
] if s64 else []
hostile = [
    ("os_system", with_pickle(evil_os), "names the global os.system, which a tensor state dict does not use"),
    ("builtins_eval", with_pickle(evil_eval), "names the global builtins.eval"),
    ("storage_past_end", bytes(zz), "run past the end of the entries"),
    ("tensor_past_storage", with_pickle(past), "runs past its storage"),
    ("huge_shape", with_pickle(huge), "is not a count below 2^60"),
    ("deflate", zip_of(sents, zipfile.ZIP_DEFLATED), "is compressed (zip method 8, deflate)"),
    ("zip64", bytes(z64), "holds the zip64 placeholder 0xFFFFFFFF (central directory size or offset), but no zip64 end record"),
    ("duplicate_names", dup, "the zip holds two entries named small/data/0"),
    ("legacy", legacy.getvalue(), "a legacy (non-zip) torch.save file"),
    ("protocol4", proto4.getvalue(), "pickle protocol 4"),
    ("truncated_half", good[:len(good) // 2], "no end-of-central-directory record"),
    ("truncated_1", good[:-1], "no end-of-central-directory record"),
    ("crc", None, None),
    ("not_zip", b"hello world, not a checkpoint", "not a PyTorch zip archive"),
    ("empty", b"", "not a PyTorch zip archive"),
]
# a flipped byte in a storage: CRC mismatch
bad = bytearray(zip_of(sents))
off = bytes(bad).find(b"\x80\x3f\x80\x3f")  # bf16 1.0 1.0 in small/data/0
bad[off] ^= 1
hostile[12] = ("crc", bytes(bad), "CRC mismatch")
hostile += z64_hostile
for name, data, msg in hostile:
    f = os.path.join(WORK, f"hostile_{name}.pth")
    open(f, "wb").write(data)
    p = run([BONE, "convert", "rwkv-pth", f, "--out", os.path.join(WORK, "h_" + name), "--vocab", DATA], ok=False)
    check(p.returncode == 1, f"hostile {name}: exit {p.returncode}")
    check(msg in p.stderr, f"hostile {name}: message {p.stderr.strip()!r} lacks {msg!r}")
    check(not os.path.exists(os.path.join(WORK, "h_" + name)), f"hostile {name}: an output directory was written")
print(f"{len(hostile)} hostile files refused" if not FAIL else "")
# the small valid file itself is read (it is not an RWKV model: refused for its names, after parsing)
p = run([BONE, "convert", "rwkv-pth", sp, "--out", os.path.join(WORK, "h_small"), "--vocab", DATA], ok=False)
check("no tensor emb.weight" in p.stderr, f"the small valid file: {p.stderr}")

# ---- 5. zip64 ------------------------------------------------------------------------------------------
def bone_dump(path):  # {name: (dtype, shape, hex bytes)} as bone's reader sees it, or None and the error
    p = run([PTHTOOL, "dump", path], ok=False)
    if p.returncode != 0:
        return None, p.stderr.strip()
    out = {}
    for line in p.stdout.splitlines():
        name, dt, shape, data = line.split("\t")
        out[name] = (dt, [int(x) for x in shape.split(",")] if shape else [], data)
    return out, ""


def check_dump(label, path, ref):
    got, err = bone_dump(path)
    check(got is not None, f"{label}: bone refused it: {err}")
    if got is None:
        return
    check(list(got) == list(ref), f"{label}: names or their order differ from torch's")
    for k, t in ref.items():
        check(got.get(k) == (STD[t.dtype], list(t.shape), tbytes(t).hex()), f"{label}: {k} differs from torch's tensor")


class Stream:  # a write-only file: zipfile then writes data descriptors (24-byte ones after zip64 headers)
    def __init__(self):
        self.b = io.BytesIO()

    def write(self, x):
        return self.b.write(x)

    def flush(self):
        pass


def pyzip(entries, force=False, limit=None, count_limit=None, stream=False):
    """The entries stored by Python's zipfile: force_zip64 puts a zip64 extra field (both sizes) in every
    local header; lowered ZIP64_LIMIT/ZIP_FILECOUNT_LIMIT make it write 0xFFFFFFFF placeholders with
    zip64 extra fields for every size/offset above the limit, and the zip64 end record and locator."""
    old = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    try:
        zipfile.ZIP64_LIMIT = old[0] if limit is None else limit
        zipfile.ZIP_FILECOUNT_LIMIT = old[1] if count_limit is None else count_limit
        f = Stream() if stream else io.BytesIO()
        b = f.b if stream else f
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            for n, data in entries:
                if force:
                    with z.open(zipfile.ZipInfo(n), "w", force_zip64=True) as f:
                        f.write(data)
                else:
                    z.writestr(zipfile.ZipInfo(n), data)
        return b.getvalue()
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = old


def z64_layout(raw):  # what zip64 a file uses: (zip64 end record, central placeholders, local zip64 extras)
    eo = raw.rfind(b"PK\x05\x06")
    rec = raw[eo - 20:eo - 16] == b"PK\x06\x07"
    z = zipfile.ZipFile(io.BytesIO(raw))
    cph = lph = 0
    pos = z.start_dir
    for info in z.infolist():
        cs, us = struct.unpack("<II", raw[pos + 20:pos + 28])
        off = struct.unpack("<I", raw[pos + 42:pos + 46])[0]
        cph += (cs == 0xFFFFFFFF) + (us == 0xFFFFFFFF) + (off == 0xFFFFFFFF)
        nl, xl, cl = struct.unpack("<HHH", raw[pos + 28:pos + 34])
        pos += 46 + nl + xl + cl
        h = info.header_offset
        lnl, lxl = struct.unpack("<HH", raw[h + 26:h + 30])
        x = raw[h + 30 + lnl:h + 30 + lnl + lxl]
        k = 0
        while k + 4 <= len(x):
            fid, fl = struct.unpack("<HH", x[k:k + 4])
            lph += fid == 1
            k += 4 + fl
    return rec, cph, lph


st_ref = open(os.path.join(out, "model.safetensors"), "rb").read() if os.path.exists(os.path.join(out, "model.safetensors")) else None
tents = torch_entries(pth)
for label, raw, want in [("zipfile force_zip64", pyzip(tents, force=True), (False, 0, len(tents))),
                         ("zipfile zip64 everywhere", pyzip(tents, limit=-1, count_limit=0), (True, 3 * len(tents), len(tents))),
                         ("zipfile zip64 past 512 bytes", pyzip(tents, limit=512), (True, None, None)),
                         ("zipfile streamed force_zip64", pyzip(tents, force=True, stream=True), (False, 0, len(tents)))]:
    f = os.path.join(WORK, "z64_" + label.replace(" ", "_") + ".pth")
    open(f, "wb").write(raw)
    lay = z64_layout(raw)
    check(all(w is None or w == g for w, g in zip(want, lay)), f"{label}: zip64 layout {lay}, meant {want}")
    check_dump(label, f, sd)
    o = os.path.join(WORK, "z64_hf_" + label.replace(" ", "_"))
    p = run([BONE, "convert", "rwkv-pth", f, "--out", o, "--vocab", DATA])
    check(p.returncode == 0 and st_ref is not None and open(os.path.join(o, "model.safetensors"), "rb").read() == st_ref,
          f"{label}: convert differs from the plain file's: {p.stderr}")
check(all(i.flag_bits & 8 for i in zipfile.ZipFile(io.BytesIO(pyzip(tents, force=True, stream=True))).infolist()),
      "zipfile streamed: no data descriptors")
# the mixed case really mixes: small entries without zip64 sizes, later ones with zip64 offsets
lay = z64_layout(pyzip(tents, limit=512))
check(0 < lay[1] < 3 * len(tents), f"zipfile zip64 past 512 bytes: {lay[1]} placeholders, expected some but not all")

# bone's writer, zip64 forced: every 32-bit size/offset is the placeholder, the data stays 64-byte aligned,
# Python's zipfile checks every CRC, and torch reads it back tensor for tensor
f64 = os.path.join(WORK, "tiny_z64.pth")
p = run([PTHTOOL, "copy", pth, f64, "--zip64"])
check(p.returncode == 0, f"pth_tool copy --zip64: {p.stderr}")
if p.returncode == 0:
    raw = open(f64, "rb").read()
    n = len(sd) + 3
    check(z64_layout(raw) == (True, 3 * n, n), f"bone --zip64 layout {z64_layout(raw)}, expected {(True, 3 * n, n)}")
    check(raw[-22:] == b"PK\x05\x06" + bytes(4) + b"\xff" * 12 + bytes(2), f"bone --zip64 end record {raw[-22:].hex()}")
    z = zipfile.ZipFile(f64)
    check(z.testzip() is None, "bone --zip64: zipfile finds a bad CRC")
    for info in z.infolist():
        h = info.header_offset
        lnl, lxl = struct.unpack("<HH", raw[h + 26:h + 30])
        check(info.compress_type == 0 and (h + 30 + lnl + lxl) % 64 == 0, f"bone --zip64: {info.filename} not stored and aligned")
    got = torch.load(f64, weights_only=True)
    check(list(got) == list(sd), "bone --zip64: torch.load names differ")
    for k, t in sd.items():
        check(k in got and got[k].dtype == t.dtype and got[k].shape == t.shape and torch.equal(got[k], t),
              f"bone --zip64: torch.load {k} differs")
    check_dump("bone --zip64", f64, sd)
    o = os.path.join(WORK, "z64_hf_bone")
    p = run([BONE, "convert", "rwkv-pth", f64, "--out", o, "--vocab", DATA])
    check(p.returncode == 0 and st_ref is not None and open(os.path.join(o, "model.safetensors"), "rb").read() == st_ref,
          f"bone --zip64: convert differs from the plain file's: {p.stderr}")
# without the knob a small file has no zip64 at all (as before)
fpl = os.path.join(WORK, "tiny_plain.pth")
p = run([PTHTOOL, "copy", pth, fpl])
check(p.returncode == 0 and z64_layout(open(fpl, "rb").read()) == (False, 0, 0), f"plain copy uses zip64: {p.stderr}")
check_dump("bone plain copy", fpl, sd)
# torch's own file: the zip64 end record repeating the 32-bit values, data descriptors
check(z64_layout(good)[0], "torch's file has no zip64 end record (torch.save changed?)")
check_dump("torch.save", pth, sd)

if FAIL:
    print(f"{len(FAIL)} FAILED")
    sys.exit(1)
print("ok: convert, export rwkv-pth, export rwkv-peft, hostile files, zip64")
