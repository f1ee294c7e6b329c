#!/usr/bin/env python3
"""ref_gguf.py — an independent check of bone's GGUF writer: parses the GGUF files itself
(docs/GGUF.md §3.1 layout), rebuilds every tensor from the model's (or adapter's) safetensors
with numpy following llama.cpp's converter literally (the Q/K permute as its reshape/swapaxes,
Q8_0 as quantize_row_q8_0_ref with round-half-away, F16 by numpy's round-to-nearest-even, BF16
by ggml's rounding rule) and compares byte for byte; checks key types, alignment and offsets.
usage: ref_gguf.py model MODEL_DIR GGUF TYPE      (TYPE: f32 f16 bf16 q8_0; no adapter)
       ref_gguf.py lora MODEL_DIR ADAPTER_DIR GGUF (lora or bone-free adapter, f32)
Exits non-zero on the first mismatch, printing what differs."""
import json, os, struct, sys
import numpy as np

def fail(msg):
    print("FAIL", msg)
    sys.exit(1)

# ---- GGUF parsing (written from the spec, shares nothing with bone's reader) ----
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
TNAMES = {0: "F32", 1: "F16", 8: "Q8_0", 30: "BF16"}
TSIZE = {0: (1, 4), 1: (1, 2), 8: (32, 34), 30: (1, 2)}

def read_gguf(path):
    b = open(path, "rb").read()
    pos = 0
    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, b, pos)[0]
        pos += struct.calcsize(fmt)
        return v
    def string():
        nonlocal pos
        n = take("<Q")
        s = b[pos:pos + n]
        pos += n
        return s.decode("utf-8")
    def value(t):
        if t == 8:
            return string()
        if t == 9:
            at, n = take("<I"), take("<Q")
            return (at, [value(at) for _ in range(n)])
        return take(SCALAR[t])
    if b[:4] != b"GGUF": fail(f"{path}: bad magic")
    pos = 4
    if take("<I") != 3: fail(f"{path}: version is not 3")
    nt, nkv = take("<Q"), take("<Q")
    kv = {}
    for _ in range(nkv):
        k = string()
        t = take("<I")
        kv[k] = (t, value(t))
    infos = []
    for _ in range(nt):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = kv.get("general.alignment", (4, 32))[1]
    ds = (pos + align - 1) // align * align
    if any(x != 0 for x in b[pos:ds]): fail(f"{path}: non-zero padding before the data")
    tensors, expect = {}, 0
    for name, ne, t, off in infos:
        if off != expect: fail(f"{path}: {name} at offset {off}, expected {expect}")
        blk, sz = TSIZE[t]
        n = int(np.prod(ne))
        nb = n // blk * sz
        tensors[name] = (ne, t, b[ds + off: ds + off + nb])
        expect = off + (nb + align - 1) // align * align
    return kv, tensors

# ---- safetensors (numpy; BF16 widened by hand) ----
def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack_from("<Q", b, 0)[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]
        raw = b[8 + n + s: 8 + n + e]
        if v["dtype"] == "F32": a = np.frombuffer(raw, "<f4")
        elif v["dtype"] == "F16": a = np.frombuffer(raw, "<f2").astype(np.float32)
        elif v["dtype"] == "BF16": a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else: fail(f"{path}: dtype {v['dtype']}")
        out[k] = a.reshape(v["shape"])
    return out

# ---- encodings, after llama.cpp / gguf-py ----
def permute(w, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv: n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

def bf16(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = np.where(nan, (u & 0xFFFF0000) | 0x00400000, u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype("<u2").tobytes()

def q8_0(x):
    x = x.astype(np.float32).reshape(-1, 32)
    d = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    y = (x * idv[:, None]).astype(np.float32)
    q = (np.sign(y) * np.floor(np.abs(y) + np.float32(0.5))).astype(np.int8)  # round half away from zero
    out = np.zeros((x.shape[0], 34), np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()

def encode(x, t):
    if t == 0: return x.astype("<f4").tobytes()
    if t == 1: return x.astype("<f2").tobytes()
    if t == 30: return bf16(x)
    if t == 8: return q8_0(x)
    fail(f"type {t}")

PROJ = {"q_proj": ("self_attn", "attn_q"), "k_proj": ("self_attn", "attn_k"), "v_proj": ("self_attn", "attn_v"),
        "o_proj": ("self_attn", "attn_output"), "gate_proj": ("mlp", "ffn_gate"), "up_proj": ("mlp", "ffn_up"),
        "down_proj": ("mlp", "ffn_down")}
TYPES = {"f32": 0, "f16": 1, "bf16": 30, "q8_0": 8}

def check_kv_types(kv, arch):
    want = {"general.architecture": 8, f"{arch}.context_length": 4, f"{arch}.embedding_length": 4,
            f"{arch}.block_count": 4, f"{arch}.feed_forward_length": 4, f"{arch}.attention.head_count": 4,
            f"{arch}.attention.head_count_kv": 4, f"{arch}.rope.freq_base": 6,
            f"{arch}.attention.layer_norm_rms_epsilon": 6, "general.file_type": 4, "tokenizer.ggml.model": 8,
            "tokenizer.ggml.add_bos_token": 7, "tokenizer.ggml.add_eos_token": 7, "tokenizer.ggml.eos_token_id": 4}
    for k, t in want.items():
        if k not in kv: fail(f"missing key {k}")
        if kv[k][0] != t: fail(f"key {k} has type {kv[k][0]}, expected {t}")
    tt = kv["tokenizer.ggml.token_type"]
    if tt[0] != 9 or tt[1][0] != 5: fail("tokenizer.ggml.token_type is not an array of i32")
    if kv["tokenizer.ggml.tokens"][1][0] != 8: fail("tokenizer.ggml.tokens is not an array of strings")

def main():
    mode = sys.argv[1]
    mdir = sys.argv[2]
    cfg = json.load(open(os.path.join(mdir, "config.json")))
    W = read_st(os.path.join(mdir, "model.safetensors"))
    arch = "qwen2" if cfg["model_type"] == "qwen2" else "llama"
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    checked = 0
    if mode == "model":
        path, tname = sys.argv[3], sys.argv[4]
        kv, T = read_gguf(path)
        check_kv_types(kv, arch)
        if kv[f"{arch}.attention.layer_norm_rms_epsilon"][1] != np.float32(cfg["rms_norm_eps"]): fail("eps")
        if kv["tokenizer.ggml.tokens"][1][1][-1] != f"[PAD{cfg['vocab_size'] - 1}]" and cfg["vocab_size"] > 4096:
            fail("padding tokens")
        if len(kv["tokenizer.ggml.tokens"][1][1]) != cfg["vocab_size"]: fail("token count != vocab_size")
        t = TYPES[tname]
        if t == 8 and kv.get("general.quantization_version", (0, 0)) != (4, 2): fail("quantization_version")
        names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                 "lm_head.weight": "output.weight"}
        for l in range(cfg["num_hidden_layers"]):
            names[f"model.layers.{l}.input_layernorm.weight"] = f"blk.{l}.attn_norm.weight"
            names[f"model.layers.{l}.post_attention_layernorm.weight"] = f"blk.{l}.ffn_norm.weight"
            for p, (parent, g) in PROJ.items():
                for s in ("weight", "bias"):
                    names[f"model.layers.{l}.{parent}.{p}.{s}"] = f"blk.{l}.{g}.{s}"
        if set(names[k] for k in W) != set(T): fail(f"tensor sets differ: {sorted(set(T) ^ set(names[k] for k in W))}")
        for hf, x in W.items():
            g = names[hf]
            ne, gt, data = T[g]
            if list(reversed(x.shape)) != ne: fail(f"{g}: ne {ne}, expected {list(reversed(x.shape))}")
            if arch == "llama" and (".q_proj." in hf or ".k_proj." in hf):
                x = permute(x, nh, nh if ".q_proj." in hf else nkv)
            want_t = 0 if x.ndim == 1 else t
            if want_t == 8 and x.shape[-1] % 32: want_t = 1  # the converter's fallback
            if gt != want_t: fail(f"{g}: type {gt}, expected {want_t}")
            if encode(x, gt) != data: fail(f"{g}: bytes differ from the reference encoding ({TNAMES[gt]})")
            checked += 1
        print(f"ok {path}: {checked} tensors byte-identical to the reference ({tname}), key types as llama.cpp reads them")
    else:
        adir, path = sys.argv[3], sys.argv[4]
        acfg = json.load(open(os.path.join(adir, "adapter_config.json")))
        A = read_st(os.path.join(adir, "adapter_model.safetensors"))
        kv, T = read_gguf(path)
        for k, t in {"general.type": 8, "general.architecture": 8, "adapter.type": 8, "adapter.lora.alpha": 6}.items():
            if kv.get(k, (None,))[0] != t: fail(f"key {k}: type {kv.get(k, (None,))[0]}, expected {t}")
        if kv["general.type"][1] != "adapter" or kv["adapter.type"][1] != "lora": fail("general.type/adapter.type")
        pt = acfg["peft_type"]
        for k, x in A.items():
            # base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight (PEFT) / .miss_block
            parts = k.split(".")
            l, p = int(parts[4]), parts[6]
            base = f"blk.{l}.{PROJ[p][1]}.weight"
            perm = arch == "llama" and p in ("q_proj", "k_proj")
            heads = (nh, nh if p == "q_proj" else nkv)
            if pt == "LORA":
                if parts[7] == "lora_A":
                    a, b = x, A[k.replace("lora_A", "lora_B")]
                else:
                    continue
                alpha = acfg["lora_alpha"] * (np.sqrt(acfg["r"]) if acfg.get("use_rslora") else 1)
            else:  # MISS / bone-free: the exact LoRA form of PEFT's conversion
                r = x.shape[0]
                a = np.zeros((r, W[f"model.layers.{l}.{PROJ[p][0]}.{p}.weight"].shape[1]), np.float32)
                a[np.arange(a.shape[1]) % r, np.arange(a.shape[1])] = 1
                b, alpha = x.T, r
            if perm: b = permute(b, *heads)
            for suf, y in ((".lora_a", a), (".lora_b", b)):
                ne, gt, data = T[base + suf]
                if list(reversed(y.shape)) != ne: fail(f"{base}{suf}: ne {ne}, expected {list(reversed(y.shape))}")
                if data != y.astype("<f4").tobytes(): fail(f"{base}{suf}: bytes differ")
                checked += 1
            if not np.isclose(kv["adapter.lora.alpha"][1], alpha, rtol=1e-6): fail(f"alpha {kv['adapter.lora.alpha'][1]} != {alpha}")
        if checked != len(T): fail(f"{len(T)} tensors in the file, {checked} checked")
        print(f"ok {path}: {checked} adapter tensors byte-identical to the reference ({pt}), alpha {kv['adapter.lora.alpha'][1]}")

main()
