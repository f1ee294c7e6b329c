#!/usr/bin/env python3
"""ref_gguf.py — an independent check of bone's GGUF writer: parses the GGUF files itself
(docs/GGUF.md §3.1 layout), rebuilds every tensor from the model's (or adapter's) safetensors
with numpy following llama.cpp's converter literally (the Q/K permute as its reshape/swapaxes,
Q8_0 as quantize_row_q8_0_ref with round-half-away, F16 by numpy's round-to-nearest-even, BF16
by ggml's rounding rule) and compares byte for byte; checks key types, alignment and offsets.
RWKV-6 (rwkv6_model below): the Rwkv6Model converter's transposes, permute, squeezes, the
w,k,v,r,g stack of time_mix_lerp_fused and its rescale rule (with the file's rescale_every_n_layers),
and the World vocabulary: each token, unescaped as llama_unescape_rwkv_token does, must be the
bytes of rwkv_vocab_v20230424.txt's Python literal (ast.literal_eval).
usage: ref_gguf.py model MODEL_DIR GGUF TYPE      (TYPE: f32 f16 bf16 q8_0; no adapter)
       ref_gguf.py lora MODEL_DIR ADAPTER_DIR GGUF (lora or bone-free adapter, f32)
Exits non-zero on the first mismatch, printing what differs."""
import ast, json, os, struct, sys
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

# ---- RWKV-6 (docs/GGUF.md §3.7), after conversion/rwkv.py Rwkv6Model ----
RW_LIN = {"attention.receptance": "time_mix_receptance", "attention.key": "time_mix_key",
          "attention.value": "time_mix_value", "attention.gate": "time_mix_gate", "attention.output": "time_mix_output",
          "feed_forward.key": "channel_mix_key", "feed_forward.receptance": "channel_mix_receptance",
          "feed_forward.value": "channel_mix_value"}
RW_SMALL = {"ln1.weight": "attn_norm.weight", "ln1.bias": "attn_norm.bias", "ln2.weight": "attn_norm_2.weight",
            "ln2.bias": "attn_norm_2.bias", "attention.time_maa_x": "time_mix_lerp_x.weight",
            "attention.time_maa_w1": "time_mix_w1.weight", "attention.time_maa_w2": "time_mix_w2.weight",
            "attention.time_decay": "time_mix_decay.weight", "attention.time_decay_w1": "time_mix_decay_w1.weight",
            "attention.time_decay_w2": "time_mix_decay_w2.weight", "attention.time_faaaa": "time_mix_first.weight",
            "attention.ln_x.weight": "time_mix_ln.weight", "attention.ln_x.bias": "time_mix_ln.bias",
            "feed_forward.time_maa_k": "channel_mix_lerp_k.weight",
            "feed_forward.time_maa_r": "channel_mix_lerp_r.weight"}

def rwkv_unescape(s):
    """llama_unescape_rwkv_token: \\t \\n \\r, \\xhh (lower-case hex digits as it parses them), \\c → c"""
    out, i, b = bytearray(), 0, s.encode()
    while i < len(b):
        c = b[i]
        if c != 0x5C:
            out.append(c); i += 1; continue
        e = b[i + 1]
        if e == ord("x"):
            h = b[i + 2:i + 4]
            val = 0
            for d in h: val = val * 16 + (d - ord("a") + 10 if d >= ord("a") else d - ord("0"))
            out.append(val & 0xFF); i += 4
        else:
            out.append({ord("t"): 9, ord("n"): 10, ord("r"): 13}.get(e, e)); i += 2
    return bytes(out)

def rwkv_check_vocab(kv, vocab_path, V):
    toks, types = kv["tokenizer.ggml.tokens"][1][1], kv["tokenizer.ggml.token_type"][1][1]
    if kv["tokenizer.ggml.model"][1] != "rwkv": fail("tokenizer.ggml.model is not rwkv")
    if len(toks) != V: fail(f"{len(toks)} tokens, vocab_size {V}")
    if toks[0] != "<s>" or types[0] != 3: fail("token 0 is not <s> CONTROL")
    n, same_repr = 0, 0
    for line in open(vocab_path, encoding="utf-8"):
        sp1, sp2 = line.index(" "), line.rindex(" ")
        i, lit = int(line[:sp1]), ast.literal_eval(line[sp1 + 1:sp2])
        raw = lit.encode("utf-8") if isinstance(lit, str) else lit
        if rwkv_unescape(toks[i]) != raw: fail(f"token {i}: {toks[i]!r} unescapes to {rwkv_unescape(toks[i])!r}, vocab {raw!r}")
        if types[i] != 1: fail(f"token {i}: type {types[i]}, expected 1 (NORMAL)")
        same_repr += toks[i] == repr(raw)[2:-1]
        n += 1
    for i in range(n + 1, V):
        if toks[i] != f"[PAD{i}]" or types[i] != 5: fail(f"token {i}: {toks[i]!r} type {types[i]}, expected [PAD{i}] UNUSED")
    return n, same_repr

def rwkv6_model(cfg, W, kv, T, t, vocab_path):
    for k, kt in {"rwkv6.context_length": 4, "rwkv6.embedding_length": 4, "rwkv6.block_count": 4,
                  "rwkv6.attention.layer_norm_epsilon": 6, "rwkv6.rescale_every_n_layers": 4, "rwkv6.wkv.head_size": 4,
                  "rwkv6.time_mix_extra_dim": 4, "rwkv6.time_decay_extra_dim": 4, "rwkv6.feed_forward_length": 4,
                  "rwkv6.attention.head_count": 4, "general.file_type": 4, "tokenizer.ggml.model": 8}.items():
        if kv.get(k, (None,))[0] != kt: fail(f"key {k}: type {kv.get(k, (None,))[0]}, expected {kt}")
    if kv["rwkv6.wkv.head_size"][1] != cfg["head_size"]: fail("wkv.head_size")
    if kv["rwkv6.time_mix_extra_dim"][1] * 5 != W["rwkv.blocks.0.attention.time_maa_w1"].shape[1]: fail("time_mix_extra_dim")
    if kv["rwkv6.time_decay_extra_dim"][1] != W["rwkv.blocks.0.attention.time_decay_w1"].shape[1]: fail("time_decay_extra_dim")
    if kv["rwkv6.attention.layer_norm_epsilon"][1] != np.float32(cfg["layer_norm_epsilon"]): fail("eps")
    rescale = kv["rwkv6.rescale_every_n_layers"][1]
    ref = {"token_embd.weight": W["rwkv.embeddings.weight"], "output.weight": W["head.weight"],
           "token_embd_norm.weight": W["rwkv.blocks.0.pre_ln.weight"], "token_embd_norm.bias": W["rwkv.blocks.0.pre_ln.bias"],
           "output_norm.weight": W["rwkv.ln_out.weight"], "output_norm.bias": W["rwkv.ln_out.bias"]}
    quant = {"token_embd.weight", "output.weight"}
    for l in range(cfg["num_hidden_layers"]):
        pre = f"rwkv.blocks.{l}."
        for hf, g in RW_SMALL.items():
            x = W[pre + hf]
            if g in ("time_mix_w1.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight"): x = x.T
            if g == "time_mix_w2.weight": x = np.transpose(x, (0, 2, 1))
            if g == "time_mix_decay.weight" or "lerp" in g: x = np.squeeze(x)
            ref[f"blk.{l}.{g}"] = x
        # the converter's stack of the squeezed time_maa_{w,k,v,r,g}: [5, 1, 1, C]
        ref[f"blk.{l}.time_mix_lerp_fused.weight"] = np.stack(
            [np.squeeze(W[pre + f"attention.time_maa_{c}"])[None] for c in "wkvrg"], axis=0)[:, None]
        for hf, g in RW_LIN.items():
            x = W[pre + hf + ".weight"]
            if rescale > 0 and g in ("time_mix_output", "channel_mix_value"): x = x / np.float32(2 ** (l // rescale))
            ref[f"blk.{l}.{g}.weight"] = x
            quant.add(f"blk.{l}.{g}.weight")
    if set(ref) != set(T): fail(f"tensor sets differ: {sorted(set(T) ^ set(ref))}")
    for g, x in ref.items():
        ne, gt, data = T[g]
        if list(reversed(x.shape)) != ne: fail(f"{g}: ne {ne}, expected {list(reversed(x.shape))}")
        want_t = t if g in quant else 0
        if want_t == 8 and x.shape[-1] % 32: want_t = 1
        if gt != want_t: fail(f"{g}: type {gt}, expected {want_t}")
        if encode(x, gt) != data: fail(f"{g}: bytes differ from the reference encoding ({TNAMES[gt]})")
    extra = ""
    if vocab_path:
        n, same = rwkv_check_vocab(kv, vocab_path, cfg["vocab_size"])
        extra = f"; {n} World tokens unescape to the vocabulary's bytes ({same} spelled as Python's repr)"
    return len(ref), extra

def main():
    mode = sys.argv[1]
    mdir = sys.argv[2]
    cfg = json.load(open(os.path.join(mdir, "config.json")))
    W = read_st(os.path.join(mdir, "model.safetensors"))
    arch = {"qwen2": "qwen2", "rwkv6": "rwkv6"}.get(cfg["model_type"], "llama")
    nh, nkv = cfg.get("num_attention_heads", 0), cfg.get("num_key_value_heads", cfg.get("num_attention_heads", 0))
    checked = 0
    if mode == "model" and arch == "rwkv6":
        path, tname = sys.argv[3], sys.argv[4]
        kv, T = read_gguf(path)
        vp = os.path.join(mdir, "rwkv_vocab_v20230424.txt")
        checked, extra = rwkv6_model(cfg, W, kv, T, TYPES[tname], vp if os.path.exists(vp) else None)
        print(f"ok {path}: {checked} rwkv6 tensors byte-identical to the reference ({tname}){extra}")
    elif mode == "model":
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
            if arch == "rwkv6":  # base_model.model.rwkv.blocks.L.attention.key.lora_A.weight
                base = f"blk.{l}.{RW_LIN[parts[5] + '.' + p]}.weight"
                win = W[f"rwkv.blocks.{l}.{parts[5]}.{p}.weight"].shape[1]
            else:
                base = f"blk.{l}.{PROJ[p][1]}.weight"
                win = W[f"model.layers.{l}.{PROJ[p][0]}.{p}.weight"].shape[1]
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
                a = np.zeros((r, win), np.float32)
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
