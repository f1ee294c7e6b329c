#!/usr/bin/python3
"""Independent float64 PyTorch oracle for the bone C tests.

Run with Debian's interpreter (torch + numpy only; no transformers, no safetensors):

    /usr/bin/python3 tests/reference/make_fixtures.py --out DIR      # write fixtures
    /usr/bin/python3 tests/reference/make_fixtures.py --selfcheck    # internal checks only
    /usr/bin/python3 tests/reference/make_fixtures.py --out DIR --selfcheck

Everything is computed in float64 from the *stored* weight values (f32, or bf16-rounded
values for the bf16 case) and written as F32.  Semantics follow
docs/FORMATS.md (§1 safetensors, §2 HF Llama/Qwen2, §5 PEFT) and
docs/BONE.md (adapter math).  See README.md next to this file for the layout.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)
F64 = torch.float64

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
ATTN_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj"}


# =============================================================================================
# safetensors (FORMATS.md §1) — tiny writer and reader
# =============================================================================================

# Reference writer order: dtype by this enum list (earlier first), then name bytewise.
_DTYPE_ENUM = ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16"]


def f32_to_bf16_bits(a):
    """float32 ndarray -> uint16 bf16 bits, round to nearest even, NaN -> 0x7FC0 (FORMATS §1.3)."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    r[np.isnan(a)] = 0x7FC0
    return r


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view("<f4")


def bf16_round(t):
    """Round a tensor to bf16 precision, returned as float64 (the value the C code will load)."""
    a = t.detach().to(torch.float32).numpy()
    return torch.from_numpy(bf16_bits_to_f32(f32_to_bf16_bits(a)).astype(np.float64))


def save_safetensors(path, tensors, dtype="F32"):
    """tensors: dict name -> torch tensor (any float dtype).  dtype: "F32"/"BF16" for all,
    or a dict name -> dtype.  Compact JSON header, __metadata__ first, space padding to 8."""
    entries = []
    for name, t in tensors.items():
        dt = dtype[name] if isinstance(dtype, dict) else dtype
        a = t.detach().to(torch.float64).numpy().astype(np.float32)  # f64 -> f32: round-to-nearest
        if dt == "F32":
            raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        elif dt == "BF16":
            raw = f32_to_bf16_bits(a).astype("<u2").tobytes()
        else:
            raise ValueError(dt)
        entries.append((_DTYPE_ENUM.index(dt), name.encode("utf-8"), name, dt, list(t.shape), raw))
    entries.sort(key=lambda e: (e[0], e[1]))
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for _, _, name, dt, shape, raw in entries:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for e in entries:
            f.write(e[5])


def load_safetensors(path):
    """-> dict name -> float64 tensor (F32, BF16, F64 supported).  Validates the tiling."""
    with open(path, "rb") as f:
        buf = f.read()
    n = int.from_bytes(buf[:8], "little")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    out, spans = {}, []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        spans.append((b, en))
        raw = data[b:en]
        if e["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif e["dtype"] == "BF16":
            a = bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2")).astype(np.float64)
        elif e["dtype"] == "F64":
            a = np.frombuffer(raw, dtype="<f8").copy()
        else:
            raise ValueError(e["dtype"])
        out[name] = torch.from_numpy(a.reshape(e["shape"]))
    spans.sort()
    pos = 0
    for b, en in spans:
        assert b == pos, "gap/overlap in data area"
        pos = en
    assert pos == len(data), "trailing bytes"
    return out


def write_json(path, obj, **kw):
    with open(path, "w") as f:
        json.dump(obj, f, **kw)
        f.write("\n")


# =============================================================================================
# Model configs (FORMATS.md §2.1)
# =============================================================================================

def make_cfg(**over):
    """Our internal config dict (superset of what goes into config.json)."""
    c = dict(model_type="llama", vocab_size=96, hidden_size=64, intermediate_size=96,
             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
             rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None, attention_bias=False,
             mlp_bias=False, tie_word_embeddings=False, dtype="F32")
    c.update(over)
    return c


CASES = {
    "mha_f32": make_cfg(num_key_value_heads=4, intermediate_size=128, vocab_size=101),
    "gqa_f32": make_cfg(),
    "gqa_tied_f32": make_cfg(tie_word_embeddings=True),
    "qwen2_bias_f32": make_cfg(model_type="qwen2", rms_norm_eps=1e-6, rope_theta=1000000.0),
    "llama_attnbias_mlpbias_f32": make_cfg(attention_bias=True, mlp_bias=True),
    "llama3_rope_f32": make_cfg(rope_theta=500000.0, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 64}),
    "headdim_f32": make_cfg(head_dim=32),
    "gqa_bf16": make_cfg(dtype="BF16"),
}
# Seeds: gqa_bf16 deliberately shares gqa_f32's seed, so its weights are bf16(gqa_f32 weights)
# and its data.jsonl is identical.
CASE_SEED_INDEX = {"mha_f32": 0, "gqa_f32": 1, "gqa_tied_f32": 2, "qwen2_bias_f32": 3,
                   "llama_attnbias_mlpbias_f32": 4, "llama3_rope_f32": 5, "headdim_f32": 6,
                   "gqa_bf16": 1}


def has_qkv_bias(cfg):
    return cfg["model_type"] == "qwen2" or cfg["attention_bias"]


def has_o_bias(cfg):
    return cfg["model_type"] == "llama" and cfg["attention_bias"]


def has_mlp_bias(cfg):
    return cfg["model_type"] == "llama" and cfg["mlp_bias"]


def hf_config_json(cfg):
    llama = cfg["model_type"] == "llama"
    j = {
        "architectures": ["LlamaForCausalLM" if llama else "Qwen2ForCausalLM"],
        "model_type": cfg["model_type"],
        "vocab_size": cfg["vocab_size"],
        "hidden_size": cfg["hidden_size"],
        "intermediate_size": cfg["intermediate_size"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_attention_heads": cfg["num_attention_heads"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "head_dim": cfg["head_dim"],
        "hidden_act": "silu",
        "max_position_embeddings": 128,
        "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_theta": float(cfg["rope_theta"]),
        "rope_scaling": cfg["rope_scaling"],
    }
    if llama:
        j["attention_bias"] = cfg["attention_bias"]
        j["mlp_bias"] = cfg["mlp_bias"]
    else:
        # Real Qwen2 configs have no attention_bias/mlp_bias keys (q/k/v biases are implied by
        # model_type), and carry sliding-window keys that are inactive.
        j["use_sliding_window"] = False
        j["sliding_window"] = 4096
        j["max_window_layers"] = cfg["num_hidden_layers"]
    j.update({
        "tie_word_embeddings": cfg["tie_word_embeddings"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16" if cfg["dtype"] == "BF16" else "float32",
        "initializer_range": 0.02,
    })
    return j


# =============================================================================================
# Parameters
# =============================================================================================

def param_shapes(cfg):
    """Ordered dict name -> shape, HF names (FORMATS.md §2.2)."""
    V, H, F = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    nh, nkv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    s = {"model.embed_tokens.weight": [V, H]}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        s[p + "input_layernorm.weight"] = [H]
        s[p + "self_attn.q_proj.weight"] = [nh * d, H]
        if has_qkv_bias(cfg):
            s[p + "self_attn.q_proj.bias"] = [nh * d]
        s[p + "self_attn.k_proj.weight"] = [nkv * d, H]
        if has_qkv_bias(cfg):
            s[p + "self_attn.k_proj.bias"] = [nkv * d]
        s[p + "self_attn.v_proj.weight"] = [nkv * d, H]
        if has_qkv_bias(cfg):
            s[p + "self_attn.v_proj.bias"] = [nkv * d]
        s[p + "self_attn.o_proj.weight"] = [H, nh * d]
        if has_o_bias(cfg):
            s[p + "self_attn.o_proj.bias"] = [H]
        s[p + "post_attention_layernorm.weight"] = [H]
        for m, shp in (("gate_proj", [F, H]), ("up_proj", [F, H]), ("down_proj", [H, F])):
            s[p + f"mlp.{m}.weight"] = shp
            if has_mlp_bias(cfg):
                s[p + f"mlp.{m}.bias"] = [shp[0]]
    s["model.norm.weight"] = [H]
    if not cfg["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, H]
    return s


QK_STD = 0.1


def init_params(cfg):
    """Random params in float32 (the generator's dtype), then rounded to the storage dtype and
    upcast to float64.  Linear weights N(0,0.02), embeddings and lm_head N(0,0.2) (so logits
    are not near-uniform), q_proj/k_proj N(0,QK_STD) (so attention is not near-uniform and
    RoPE/masking errors show), norm weights 1+0.1·N, biases 0.1·N."""
    P = {}
    for name, shape in param_shapes(cfg).items():
        z = torch.randn(shape, dtype=torch.float32)
        if name.endswith("norm.weight"):
            v = 1.0 + 0.1 * z
        elif name.endswith(".bias"):
            v = 0.1 * z
        elif name in ("model.embed_tokens.weight", "lm_head.weight"):
            v = 0.2 * z
        elif name.endswith(("q_proj.weight", "k_proj.weight")):
            v = QK_STD * z
        else:
            v = 0.02 * z
        v = v.to(torch.float32)
        P[name] = bf16_round(v) if cfg["dtype"] == "BF16" else v.to(F64)
    return P


def module_paths(cfg):
    """The seven adapted linear module paths of every layer (HF weight name minus '.weight')."""
    out = []
    for l in range(cfg["num_hidden_layers"]):
        for m in TARGETS:
            out.append(f"model.layers.{l}.{'self_attn' if m in ATTN_MODULES else 'mlp'}.{m}")
    return out


# =============================================================================================
# Data
# =============================================================================================

def make_data(cfg, n=16):
    """16 examples, lengths 3..12 (0 is 12 long, 1 is 3 long).  Examples 2, 6, 9, 14 have a
    masked 'prompt' (first p labels -100, 2 <= p <= T-1 so it matters and leaves >= 1 target).
    Examples 5 and 12 omit "labels" (labels = input_ids)."""
    V = cfg["vocab_size"]
    ex = []
    for k in range(n):
        T = 12 if k == 0 else 3 if k == 1 else int(torch.randint(3, 13, (1,)))
        ids = torch.randint(0, V, (T,)).tolist()
        e = {"input_ids": ids}
        if k in (5, 12):
            pass
        elif k in (2, 6, 9, 14):
            p = int(torch.randint(2, T, (1,)))
            e["labels"] = [-100] * p + ids[p:]
        else:
            e["labels"] = list(ids)
        ex.append(e)
    return ex


def labels_of(e):
    return e.get("labels", e["input_ids"])


def write_jsonl(path, examples):
    with open(path, "w") as f:
        for e in examples:
            f.write(json.dumps(e) + "\n")


# =============================================================================================
# Ops (float64)
# =============================================================================================

def rmsnorm(x, w, eps):
    """y = x / sqrt(mean(x²) + eps) · w   (no bias, no 1+w)."""
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def silu(z):
    return z * torch.sigmoid(z)


def rope_inv_freq(cfg):
    """inv_freq[i] = θ^(−2i/d), i < d/2, with llama3 scaling (FORMATS.md §2.5) if configured."""
    d = cfg["head_dim"]
    theta = float(cfg["rope_theta"])
    inv = torch.tensor([theta ** (-2.0 * i / d) for i in range(d // 2)], dtype=F64)
    rs = cfg["rope_scaling"]
    if rs is not None:
        rt = rs.get("rope_type", rs.get("type"))
        if rt == "llama3":
            f, lf, hf = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
            L = rs["original_max_position_embeddings"]
            lam_lo, lam_hi = L / lf, L / hf
            out = []
            for w in inv.tolist():
                lam = 2 * math.pi / w
                if lam < lam_hi:
                    out.append(w)
                elif lam > lam_lo:
                    out.append(w / f)
                else:
                    s = (L / lam - lf) / (hf - lf)
                    out.append((1 - s) * w / f + s * w)
            inv = torch.tensor(out, dtype=F64)
        elif rt == "linear":
            inv = inv / rs["factor"]
        elif rt != "default":
            raise ValueError(rt)
    return inv


def rope_tables(cfg, T):
    """cos, sin of shape [T, d] (each half repeated), positions 0..T-1."""
    ang = torch.arange(T, dtype=F64)[:, None] * rope_inv_freq(cfg)[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return torch.cos(ang), torch.sin(ang)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def rope(x, cos, sin):
    """HF non-interleaved RoPE; x [heads, T, d]; pairs (i, i+d/2)."""
    return x * cos + rotate_half(x) * sin


# ---- adapters ------------------------------------------------------------------------------

class Adapter:
    """variant: bone-col|bone-row|bone-grid|bone-hadamard|bone-free|lora (pissa/olora = lora
    form on the residual base).  tensors: module path -> dict ('D' or 'B' for bone; 'A','B'
    for lora).  opts: grid=(gr,gc), scale=s (lora)."""

    def __init__(self, variant, tensors, **opts):
        self.variant, self.tensors, self.opts = variant, tensors, opts

    def trainables(self):
        return [t for p in sorted(self.tensors) for _, t in sorted(self.tensors[p].items())]


def delta_w(variant, W, T, opts):
    """ΔW [O, I] for one module (BONE.md).  T = D [n,b,b] for block variants, B [b,O] for
    bone-free, (A,B) for lora.  Blocks are multiplied on the right: W_{a,c}·D."""
    O, I = W.shape
    if variant == "lora":
        A, B = T
        return opts["scale"] * (B @ A)
    if variant == "bone-free":
        b = T.shape[0]
        idx = torch.arange(I) % b                      # ΔW[o][i] = B[i mod b][o]
        return T[idx, :].t()
    b = T.shape[-1]
    nA, nC = O // b, I // b
    assert nA * b == O and nC * b == I
    Wb = W.reshape(nA, b, nC, b).permute(0, 2, 1, 3)   # [a, c, p, q] = W[a*b+p, c*b+q]
    a = torch.arange(nA)[:, None].expand(nA, nC)
    c = torch.arange(nC)[None, :].expand(nA, nC)
    if variant in ("bone-col", "bone-hadamard"):
        g = a
    elif variant == "bone-row":
        g = c
    elif variant == "bone-grid":
        gr, gc = opts["grid"]
        g = (a // gr) * (nC // gc) + c // gc
    else:
        raise ValueError(variant)
    Dg = T[g]                                           # [a, c, b, b]
    dB = Wb * Dg + Dg if variant == "bone-hadamard" else Wb @ Dg + Dg
    return dB.permute(0, 2, 1, 3).reshape(O, I)


def adapter_args(adapter, path):
    t = adapter.tensors[path]
    if adapter.variant == "lora":
        return (t["A"], t["B"])
    return t["B"] if adapter.variant == "bone-free" else t["D"]


def linear(x, P, path, adapter=None):
    """y = x·W'ᵀ + bias for module `path`, with the adapter (if any) applied."""
    W = P[path + ".weight"]
    bias = P.get(path + ".bias")
    if adapter is None or path not in adapter.tensors:
        y = x @ W.t()
    elif adapter.variant == "bone-free":
        # Linear Bone / MiSS (FORMATS.md §5.4): S[q] = Σ_c x[c·b+q] with x zero-padded.
        B = adapter.tensors[path]["B"]
        b = B.shape[0]
        I = x.shape[-1]
        pad = (-I) % b
        xp = torch.cat([x, x.new_zeros(x.shape[0], pad)], dim=-1)
        S = xp.reshape(x.shape[0], -1, b).sum(1)
        y = x @ W.t() + S @ B
    elif adapter.variant == "lora":
        t = adapter.tensors[path]
        y = x @ W.t() + adapter.opts["scale"] * ((x @ t["A"].t()) @ t["B"].t())
    else:
        Wp = W + delta_w(adapter.variant, W, adapter.tensors[path]["D"], adapter.opts)
        y = x @ Wp.t()
    return y + bias if bias is not None else y


# ---- blocks --------------------------------------------------------------------------------

def attention(cfg, P, pre, x, cos, sin, adapter):
    """x [T,H] (normed) -> o_proj(Attn(RoPE(q), RoPE(k), v)) [T,H]. Causal, GQA."""
    T = x.shape[0]
    nh, nkv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    q = linear(x, P, pre + "q_proj", adapter).reshape(T, nh, d).transpose(0, 1)
    k = linear(x, P, pre + "k_proj", adapter).reshape(T, nkv, d).transpose(0, 1)
    v = linear(x, P, pre + "v_proj", adapter).reshape(T, nkv, d).transpose(0, 1)
    q, k = rope(q, cos, sin), rope(k, cos, sin)
    rep = nh // nkv                                     # query head h uses kv head h // rep
    k = k.repeat_interleave(rep, dim=0)
    v = v.repeat_interleave(rep, dim=0)
    s = q @ k.transpose(1, 2) / math.sqrt(d)            # [nh, T, T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    s = s.masked_fill(mask, float("-inf"))
    o = torch.softmax(s, dim=-1) @ v                    # [nh, T, d]
    o = o.transpose(0, 1).reshape(T, nh * d)
    return linear(o, P, pre + "o_proj", adapter)


def mlp(cfg, P, pre, x, adapter):
    """SwiGLU: down(silu(gate(x)) · up(x))."""
    return linear(silu(linear(x, P, pre + "gate_proj", adapter)) *
                  linear(x, P, pre + "up_proj", adapter), P, pre + "down_proj", adapter)


def model_forward(cfg, P, ids, adapter=None):
    """One sequence (positions 0..T-1) -> logits [T, V]."""
    eps = cfg["rms_norm_eps"]
    h = P["model.embed_tokens.weight"][torch.tensor(ids)]
    cos, sin = rope_tables(cfg, len(ids))
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        x = rmsnorm(h, P[pre + "input_layernorm.weight"], eps)
        h = h + attention(cfg, P, pre + "self_attn.", x, cos, sin, adapter)
        x = rmsnorm(h, P[pre + "post_attention_layernorm.weight"], eps)
        h = h + mlp(cfg, P, pre + "mlp.", x, adapter)
    x = rmsnorm(h, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ head.t()


def xent_sum(logits, labels):
    """(sum of CE(logits[t], labels[t+1]) over labels != -100, count)."""
    tgt = torch.tensor(labels[1:], dtype=torch.long)
    lg = logits[:-1]
    keep = tgt != -100
    lse = torch.logsumexp(lg, dim=-1)
    picked = lg.gather(1, tgt.clamp(min=0)[:, None])[:, 0]
    return (lse - picked)[keep].sum(), int(keep.sum())


def batch_loss(cfg, P, examples, adapter=None):
    """Mean CE over all counted positions of all examples; also returns the logits."""
    tot, cnt, logits = 0.0, 0, []
    for e in examples:
        lg = model_forward(cfg, P, e["input_ids"], adapter)
        s, c = xent_sum(lg, labels_of(e))
        tot, cnt = tot + s, cnt + c
        logits.append(lg)
    return tot / cnt, logits


# =============================================================================================
# A. Model cases
# =============================================================================================

def leaf_params(P):
    return {k: v.detach().clone().requires_grad_(True) for k, v in P.items()}


def model_case(out, name, seed):
    cfg = CASES[name]
    torch.manual_seed(seed + 1000 * CASE_SEED_INDEX[name])
    P = init_params(cfg)
    data = make_data(cfg)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), hf_config_json(cfg), indent=2)
    save_safetensors(os.path.join(d, "model.safetensors"), P, cfg["dtype"])
    write_jsonl(os.path.join(d, "data.jsonl"), data)
    L = leaf_params(P)
    loss, logits = batch_loss(cfg, L, data)
    loss.backward()
    exp = {"loss": loss.detach().reshape(1)}
    for k, lg in enumerate(logits):
        exp[f"logits.{k}"] = lg.detach()
    for n, t in L.items():
        exp["grad." + n] = t.grad
    save_safetensors(os.path.join(d, "expected.safetensors"), exp, "F32")
    return cfg, P, data


# =============================================================================================
# B. Adapter cases
# =============================================================================================

ADAPTER_VARIANTS = {
    # name: (variant, block, extra opts, extra adapter_config keys)
    "bone-col": ("bone-col", 16, {}, {"init_weights": "bat"}),
    "bone-row": ("bone-row", 16, {}, {"init_weights": "bat", "bone_variant": "row"}),
    "bone-grid": ("bone-grid", 16, {"grid": (2, 2)},
                  {"init_weights": "bat", "bone_variant": "grid", "bone_grid": [2, 2]}),
    "bone-hadamard": ("bone-hadamard", 16, {}, {"init_weights": "bat", "bone_variant": "hadamard"}),
    "bone-free": ("bone-free", 16, {}, {"init_weights": True}),
    "bone-free-pad": ("bone-free", 24, {}, {"init_weights": True}),
    "lora": ("lora", 4, {"scale": 8 / 4}, {}),
}


def adapter_tensor_shapes(variant, b, W, opts):
    O, I = W.shape
    if variant == "lora":
        return {"A": [b, I], "B": [O, b]}
    if variant == "bone-free":
        return {"B": [b, O]}
    if variant == "bone-row":
        return {"D": [I // b, b, b]}
    if variant == "bone-grid":
        gr, gc = opts["grid"]
        return {"D": [(O // b // gr) * (I // b // gc), b, b]}
    return {"D": [O // b, b, b]}


def adapter_key(variant, path, which):
    if variant == "lora":
        return f"base_model.model.{path}.lora_{which}.weight"
    return f"base_model.model.{path}.miss_block"


def random_adapter(cfg, P, name):
    variant, b, opts, _ = ADAPTER_VARIANTS[name]
    tensors = {}
    for path in module_paths(cfg):
        W = P[path + ".weight"]
        tensors[path] = {w: (0.05 * torch.randn(shp, dtype=torch.float32)).to(F64)
                         for w, shp in adapter_tensor_shapes(variant, b, W, opts).items()}
    return Adapter(variant, tensors, **opts)


def adapter_file_dict(ad):
    return {adapter_key(ad.variant, p, w): t for p in ad.tensors for w, t in ad.tensors[p].items()}


def adapter_config(name):
    variant, b, _, extra = ADAPTER_VARIANTS[name]
    if variant == "lora":
        return {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "lora_dropout": 0.0,
                "target_modules": TARGETS, "task_type": "CAUSAL_LM", "bias": "none",
                "fan_in_fan_out": False, "use_rslora": False, "init_lora_weights": True}
    c = {"peft_type": "MISS", "r": b, "target_modules": TARGETS, "task_type": "CAUSAL_LM",
         "bias": "none", "mini_r": 1, "miss_dropout": 0.0}
    c.update(extra)
    return c


def adapter_case(out, name, cfg, P, data, seed, idx):
    torch.manual_seed(seed + 50000 + 1000 * idx)
    ad = random_adapter(cfg, P, name)
    d = os.path.join(out, "adapters", name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "adapter_config.json"), adapter_config(name), indent=2, sort_keys=True)
    save_safetensors(os.path.join(d, "adapter_model.safetensors"), adapter_file_dict(ad), "F32")
    # gradient wrt the adapter tensors, base frozen
    for p in ad.tensors:
        for w in ad.tensors[p]:
            ad.tensors[p][w] = ad.tensors[p][w].detach().clone().requires_grad_(True)
    loss, logits = batch_loss(cfg, P, data, ad)
    loss.backward()
    exp = {"loss": loss.detach().reshape(1)}
    for k, lg in enumerate(logits):
        exp[f"logits.{k}"] = lg.detach()
    for p in ad.tensors:
        for w, t in ad.tensors[p].items():
            exp["grad." + adapter_key(ad.variant, p, w)] = t.grad
        W = P[p + ".weight"]
        exp[f"merged.{p}.weight"] = (W + delta_w(ad.variant, W, adapter_args(ad, p), ad.opts)).detach()
    save_safetensors(os.path.join(d, "expected.safetensors"), exp, "F32")
    return ad


def pissa_init(W, r, s):
    """BONE.md PiSSA: W = U S Vᵀ (exact), S_r /= s, A = √S_r V_rᵀ, B = U_r √S_r,
    residual = W − s·B·A.  (s·B·A is the rank-r truncation whatever s is.)"""
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    Sr = S[:r] / s
    A = torch.diag(torch.sqrt(Sr)) @ Vh[:r]
    B = U[:, :r] @ torch.diag(torch.sqrt(Sr))
    return A, B, W - s * (B @ A)


def olora_init(W, r, s):
    """BONE.md OLoRA: Q,R = qr(W) (reduced); B = Q[:, :r], A = R[:r, :]; residual W − s·B·A.
    Choice (as PEFT does): the scale s divides nothing, so the moved part is s·Q_r·R_r and
    depends on s (unlike PiSSA).  Q_r·R_r = Q_r Q_rᵀ W is independent of QR sign conventions."""
    Q, R = torch.linalg.qr(W, mode="reduced")
    B, A = Q[:, :r].contiguous(), R[:r, :].contiguous()
    return A, B, W - s * (B @ A)


def init_refs(out, cfg, P):
    for kind, fn in (("pissa", pissa_init), ("olora", olora_init)):
        ref = {}
        for tag, s in (("s1", 4 / 4), ("s2", 8 / 4)):
            for p in module_paths(cfg):
                A, B, res = fn(P[p + ".weight"], 4, s)
                ref[f"{tag}.delta.{p}"] = s * (B @ A)
                ref[f"{tag}.residual.{p}"] = res
        save_safetensors(os.path.join(out, "adapters", f"{kind}_init.safetensors"), ref, "F32")


# =============================================================================================
# C. Training trajectories
# =============================================================================================

def lr_factor(i, args):
    """HF-style schedule; i = optimizer steps completed before this one."""
    total, warm = args["steps"], args["warmup"]
    if i < warm:
        return i / max(1, warm)
    sch = args["schedule"]
    if sch == "constant":
        return 1.0
    if sch == "linear":
        return max(0.0, (total - i) / max(1, total - warm))
    if sch == "cosine":
        prog = (i - warm) / max(1, total - warm)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * prog)))
    raise ValueError(sch)


def step_examples(s, args, n):
    """Example indices of step s, micro-batch-major: ((s·accum + m)·batch + j) mod n."""
    return [((s * args["accum"] + m) * args["batch"] + j) % n
            for m in range(args["accum"]) for j in range(args["batch"])]


def train(params, loss_fn, args, n):
    """AdamW (torch.optim.AdamW semantics, hand-written in float64) over `params` (list of
    leaf tensors, updated in place).  loss_fn(indices) -> step loss.  Returns losses, lrs."""
    b1, b2, eps, wd = args["beta1"], args["beta2"], args["eps"], args["weight_decay"]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    losses, lrs = [], []
    for s in range(args["steps"]):
        loss = loss_fn(step_examples(s, args, n))
        grads = torch.autograd.grad(loss, params)
        losses.append(float(loss))
        with torch.no_grad():
            grads = [g.clone() for g in grads]
            if args["max_grad_norm"] > 0:                       # clip_grad_norm_
                norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
                coef = args["max_grad_norm"] / (norm + 1e-6)
                if coef < 1.0:
                    for g in grads:
                        g.mul_(coef)
            lr = args["lr"] * lr_factor(s, args)
            lrs.append(lr)
            t = s + 1
            bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
            for p, g, mi, vi in zip(params, grads, m, v):
                p.mul_(1 - lr * wd)                            # decoupled weight decay
                mi.mul_(b1).add_(g, alpha=1 - b1)
                vi.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = vi.sqrt() / math.sqrt(bc2) + eps
                p.addcdiv_(mi, denom, value=-lr / bc1)
    return losses, lrs


BASE_TRAIN = {"steps": 10, "lr": 1e-3, "batch": 2, "accum": 2, "schedule": "cosine", "warmup": 2,
              "max_grad_norm": 1.0, "weight_decay": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
ADAPTER_TRAIN = dict(BASE_TRAIN, steps=5, lr=1e-2, warmup=1, weight_decay=0.0)


def train_case_args():
    """name -> args.json content (paths relative to DIR/train_<name>)."""
    A = {}
    A["full_clip"] = dict({"model": "../gqa_f32", "data": "../gqa_f32/data.jsonl", "method": "full"},
                          **BASE_TRAIN)
    A["full_noclip"] = dict(A["full_clip"], max_grad_norm=0.0, accum=1, schedule="constant",
                            warmup=0, weight_decay=0.0)
    A["full_tied"] = dict({"model": "../gqa_tied_f32", "data": "../gqa_tied_f32/data.jsonl",
                           "method": "full"}, **dict(BASE_TRAIN, schedule="linear", warmup=1))
    base = {"model": "../adapters/base", "data": "../adapters/base/data.jsonl"}
    for v in ("bone-col", "bone-row", "bone-grid", "bone-hadamard", "bone-free"):
        a = dict(base, method=v, block=16, init_adapter=f"../adapters/{v}", targets=TARGETS)
        if v == "bone-grid":
            a["grid"] = "2x2"
        A[v] = dict(a, **ADAPTER_TRAIN)
    A["lora"] = dict(base, method="lora", rank=4, alpha=8, init_adapter="../adapters/lora",
                     targets=TARGETS, **ADAPTER_TRAIN)
    for v in ("pissa", "olora"):
        A[v] = dict(base, method=v, rank=4, alpha=8, targets=TARGETS, **ADAPTER_TRAIN)
    return A


def train_case(out, name, args, models, adapters):
    d = os.path.join(out, "train_" + name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "args.json"), args, indent=2)
    method = args["method"]
    model_key = "gqa_tied_f32" if args["model"] == "../gqa_tied_f32" else "gqa_f32"
    cfg, P0, data = models[model_key]
    exp = {}
    if method == "full":
        P = leaf_params(P0)
        names = list(P.keys())
        losses, lrs = train([P[n] for n in names],
                            lambda idx: batch_loss(cfg, P, [data[i] for i in idx])[0], args, len(data))
        for n in names:
            exp["param." + n] = P[n].detach()
    elif method in ("pissa", "olora"):
        s = args["alpha"] / args["rank"]
        Pr = dict(P0)
        tensors = {}
        for p in module_paths(cfg):
            A, B, res = (pissa_init if method == "pissa" else olora_init)(P0[p + ".weight"], args["rank"], s)
            Pr[p + ".weight"] = res
            tensors[p] = {"A": A.clone().requires_grad_(True), "B": B.clone().requires_grad_(True)}
        ad = Adapter("lora", tensors, scale=s)
        losses, lrs = train(ad.trainables(),
                            lambda idx: batch_loss(cfg, Pr, [data[i] for i in idx], ad)[0], args, len(data))
        for p in module_paths(cfg):
            t = ad.tensors[p]
            exp[f"weff.{p}"] = (Pr[p + ".weight"] + s * t["B"] @ t["A"]).detach()
    else:
        src = adapters[method]
        tensors = {p: {w: t.detach().clone().requires_grad_(True) for w, t in src.tensors[p].items()}
                   for p in src.tensors}
        ad = Adapter(src.variant, tensors, **src.opts)
        losses, lrs = train(ad.trainables(),
                            lambda idx: batch_loss(cfg, P0, [data[i] for i in idx], ad)[0], args, len(data))
        for k, t in adapter_file_dict(ad).items():
            exp["adapter." + k] = t.detach()
    exp["losses"] = torch.tensor(losses, dtype=F64)
    exp["lrs"] = torch.tensor(lrs, dtype=F64)
    save_safetensors(os.path.join(d, "expected.safetensors"), exp, "F32")


# =============================================================================================
# Self-check (--selfcheck): independent second implementations and finite differences
# =============================================================================================

def naive_delta_w(variant, W, T, opts):
    """ΔW by explicit loops over blocks (a, c) — independent of delta_w's reshapes."""
    O, I = W.shape
    dW = torch.zeros(O, I, dtype=F64)
    if variant == "lora":
        A, B = T
        return opts["scale"] * (B @ A)
    if variant == "bone-free":
        b = T.shape[0]
        for i in range(I):
            dW[:, i] = T[i % b, :]
        return dW
    b = T.shape[-1]
    nA, nC = O // b, I // b
    for a in range(nA):
        for c in range(nC):
            if variant in ("bone-col", "bone-hadamard"):
                g = a
            elif variant == "bone-row":
                g = c
            else:
                gr, gc = opts["grid"]
                g = (a // gr) * (nC // gc) + c // gc
            blk = W[a * b:(a + 1) * b, c * b:(c + 1) * b]
            D = T[g]
            dW[a * b:(a + 1) * b, c * b:(c + 1) * b] = (blk * D if variant == "bone-hadamard" else blk @ D) + D
    return dW


def naive_forward(cfg, P, ids, adapter=None):
    """Per-token, per-head, per-pair loop implementation of the same model, using merged weights
    W + naive_delta_w (so the factored adapter forms of `linear` are checked too)."""
    H, d = cfg["hidden_size"], cfg["head_dim"]
    nh, nkv, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["rms_norm_eps"]
    half = d // 2
    # frequencies, with llama3 scaling written HF-style (wavelength masks)
    inv = [cfg["rope_theta"] ** (-(2 * i) / d) for i in range(half)]
    rs = cfg["rope_scaling"]
    if rs:
        f, lo, hi, L0 = (rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"],
                         rs["original_max_position_embeddings"])
        new = []
        for w in inv:
            wl = 2 * math.pi / w
            scaled = w / f if wl > L0 / lo else w
            if not wl < L0 / hi and not wl > L0 / lo:
                sm = (L0 / wl - lo) / (hi - lo)
                scaled = (1 - sm) * scaled / f + sm * scaled
            new.append(scaled)
        inv = new

    def W(path):
        w = P[path + ".weight"]
        if adapter is not None and path in adapter.tensors:
            w = w + naive_delta_w(adapter.variant, w, adapter_args(adapter, path), adapter.opts)
        return w

    def lin(path, x):
        y = W(path) @ x
        return y + P[path + ".bias"] if path + ".bias" in P else y

    def norm(x, w):
        ms = sum(float(v) ** 2 for v in x) / len(x)
        return x * (1.0 / math.sqrt(ms + eps)) * w

    def rot(v, t):
        out = v.clone()
        for i in range(half):
            c, s = math.cos(t * inv[i]), math.sin(t * inv[i])
            out[i] = v[i] * c - v[i + half] * s
            out[i + half] = v[i + half] * c + v[i] * s
        return out

    T = len(ids)
    h = [P["model.embed_tokens.weight"][i].clone() for i in ids]
    for l in range(cfg["num_hidden_layers"]):
        pa, pm = f"model.layers.{l}.self_attn.", f"model.layers.{l}.mlp."
        xs = [norm(h[t], P[f"model.layers.{l}.input_layernorm.weight"]) for t in range(T)]
        q = [lin(pa + "q_proj", x) for x in xs]
        k = [lin(pa + "k_proj", x) for x in xs]
        v = [lin(pa + "v_proj", x) for x in xs]
        qr = [[rot(q[t][hh * d:(hh + 1) * d], t) for hh in range(nh)] for t in range(T)]
        kr = [[rot(k[t][g * d:(g + 1) * d], t) for g in range(nkv)] for t in range(T)]
        new_h = []
        for t in range(T):
            heads = []
            for hh in range(nh):
                g = hh // (nh // nkv)
                sc = [float(qr[t][hh] @ kr[u][g]) / math.sqrt(d) for u in range(t + 1)]
                mx = max(sc)
                ex = [math.exp(z - mx) for z in sc]
                den = sum(ex)
                o = torch.zeros(d, dtype=F64)
                for u in range(t + 1):
                    o = o + (ex[u] / den) * v[u][g * d:(g + 1) * d]
                heads.append(o)
            new_h.append(h[t] + lin(pa + "o_proj", torch.cat(heads)))
        h = new_h
        for t in range(T):
            x = norm(h[t], P[f"model.layers.{l}.post_attention_layernorm.weight"])
            gt, up = lin(pm + "gate_proj", x), lin(pm + "up_proj", x)
            h[t] = h[t] + lin(pm + "down_proj", gt / (1 + torch.exp(-gt)) * up)
    head = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return torch.stack([head @ norm(h[t], P["model.norm.weight"]) for t in range(T)])


def naive_loss(cfg, P, data, adapter=None):
    tot, cnt = 0.0, 0
    for e in data:
        lg = naive_forward(cfg, P, e["input_ids"], adapter)
        lab = labels_of(e)
        for t in range(len(lab) - 1):
            if lab[t + 1] != -100:
                row = [float(z) for z in lg[t]]
                mx = max(row)
                tot += mx + math.log(sum(math.exp(z - mx) for z in row)) - row[lab[t + 1]]
                cnt += 1
    return tot / cnt, cnt


class Checker:
    def __init__(self):
        self.fail = 0

    def __call__(self, what, err, tol):
        ok = err <= tol
        self.fail += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: err {err:.3e} (tol {tol:.0e})", flush=True)


def fd_check(chk, label, loss_fn, tensors, rng, per_tensor=2, h=1e-5):
    """Central differences vs autograd for a few random coordinates of each tensor.
    Error measure: |fd − autograd| / (1e-6 + |autograd|); the 1e-6 floor absorbs the ~1e-11
    round-off/truncation error of the difference quotient on tiny gradient entries."""
    loss = loss_fn()
    grads = torch.autograd.grad(loss, [t for _, t in tensors])
    worst, where = 0.0, ""
    for (name, t), g in zip(tensors, grads):
        for _ in range(per_tensor):
            i = int(torch.randint(0, t.numel(), (1,), generator=rng))
            flat = t.data.view(-1)
            old = float(flat[i])
            with torch.no_grad():
                flat[i] = old + h
                lp = float(loss_fn())
                flat[i] = old - h
                lm = float(loss_fn())
                flat[i] = old
            fd = (lp - lm) / (2 * h)
            ag = float(g.view(-1)[i])
            e = abs(fd - ag) / (1e-6 + abs(ag))
            if e > worst:
                worst, where = e, f"{name}[{i}] fd {fd:.6e} ag {ag:.6e}"
    chk(f"{label}: autograd vs finite differences ({len(tensors) * per_tensor} coords; worst {where})",
        worst, 1e-4)


def read_model_dir(d):
    """Rebuild (cfg, params, data) from a written model dir, through the files only."""
    with open(os.path.join(d, "config.json")) as f:
        j = json.load(f)
    qwen = j["model_type"] == "qwen2"
    cfg = make_cfg(model_type=j["model_type"], vocab_size=j["vocab_size"], hidden_size=j["hidden_size"],
                   intermediate_size=j["intermediate_size"], num_hidden_layers=j["num_hidden_layers"],
                   num_attention_heads=j["num_attention_heads"],
                   num_key_value_heads=j["num_key_value_heads"],
                   head_dim=j.get("head_dim") or j["hidden_size"] // j["num_attention_heads"],
                   rms_norm_eps=j["rms_norm_eps"], rope_theta=j["rope_theta"],
                   rope_scaling=j["rope_scaling"], attention_bias=False if qwen else j["attention_bias"],
                   mlp_bias=False if qwen else j["mlp_bias"], tie_word_embeddings=j["tie_word_embeddings"])
    P = load_safetensors(os.path.join(d, "model.safetensors"))
    assert sorted(P) == sorted(param_shapes(cfg)), "tensor names differ from the config's"
    with open(os.path.join(d, "data.jsonl")) as f:
        data = [json.loads(line) for line in f]
    return cfg, P, data


def read_adapter_dir(d, cfg):
    """Rebuild an Adapter from adapter_config.json + adapter_model.safetensors."""
    with open(os.path.join(d, "adapter_config.json")) as f:
        c = json.load(f)
    T = load_safetensors(os.path.join(d, "adapter_model.safetensors"))
    tensors = {}
    if c["peft_type"] == "LORA":
        for p in module_paths(cfg):
            tensors[p] = {w: T[adapter_key("lora", p, w)] for w in ("A", "B")}
        return Adapter("lora", tensors, scale=c["lora_alpha"] / c["r"])
    if c["init_weights"] is True:
        variant = "bone-free"
    else:
        variant = "bone-" + c.get("bone_variant", "col")
    for p in module_paths(cfg):
        tensors[p] = {"B" if variant == "bone-free" else "D": T[adapter_key(variant, p, None)]}
    opts = {"grid": tuple(c["bone_grid"])} if variant == "bone-grid" else {}
    return Adapter(variant, tensors, **opts)


def selfcheck(seed):
    t0 = time.time()
    chk = Checker()
    rng = torch.Generator().manual_seed(seed)

    print("safetensors / bf16:")
    x = torch.randn(1000, dtype=torch.float32) * 10
    x[0], x[1] = 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8        # exact ties: round to even
    ours = f32_to_bf16_bits(x.numpy())
    ref = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    chk("numpy bf16 rounding == torch .to(bfloat16) bits", float((ours != ref).sum()), 0)
    tmp = os.path.join("/tmp", f"bone_selfcheck_{os.getpid()}.safetensors")
    tens = {"b": torch.randn(3, 5, dtype=F64), "a": torch.randn(7, dtype=F64), "c": torch.randn(2, 2, dtype=F64)}
    save_safetensors(tmp, tens, {"a": "BF16", "b": "F32", "c": "BF16"})
    back = load_safetensors(tmp)
    with open(tmp, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = f.read(n)
    os.remove(tmp)
    chk("header length multiple of 8 and starts with metadata",
        0.0 if n % 8 == 0 and hdr.startswith(b'{"__metadata__":{"format":"pt"},"b":') else 1.0, 0)
    chk("F32 round trip", float((back["b"] - tens["b"].float().double()).abs().max()), 0)
    chk("BF16 round trip", float((back["a"] - bf16_round(tens["a"])).abs().max()), 0)

    print("model forward: vectorised vs naive per-token loops (all cases):")
    models = {}
    for name, cfg in CASES.items():
        torch.manual_seed(seed + 1000 * CASE_SEED_INDEX[name])
        P, data = init_params(cfg), make_data(cfg)
        models[name] = (cfg, P, data)
        loss, logits = batch_loss(cfg, P, data)
        nl, _ = naive_loss(cfg, P, data)
        err = max(float((naive_forward(cfg, P, e["input_ids"]) - lg).abs().max())
                  for e, lg in zip(data[:6], logits[:6]))
        chk(f"{name}: logits (6 examples, abs)", err, 1e-11)
        chk(f"{name}: loss (abs)", abs(nl - float(loss)), 1e-11)

    print("model gradients vs finite differences:")
    for name in ("llama_attnbias_mlpbias_f32", "gqa_tied_f32", "llama3_rope_f32", "qwen2_bias_f32",
                 "headdim_f32"):
        cfg, P, data = models[name]
        L = leaf_params(P)
        fd_check(chk, name, lambda: batch_loss(cfg, L, data)[0], list(L.items()), rng)

    print("adapters:")
    cfg, P, data = models["gqa_f32"]
    for i, name in enumerate(ADAPTER_VARIANTS):
        torch.manual_seed(seed + 50000 + 1000 * i)
        ad = random_adapter(cfg, P, name)
        err = 0.0
        for p in ad.tensors:
            W = P[p + ".weight"]
            a1 = delta_w(ad.variant, W, adapter_args(ad, p), ad.opts)
            a2 = naive_delta_w(ad.variant, W, adapter_args(ad, p), ad.opts)
            err = max(err, float((a1 - a2).abs().max()))
        chk(f"{name}: delta_w vs block loops (all modules, abs)", err, 1e-14)
        loss, logits = batch_loss(cfg, P, data, ad)
        err = max(float((naive_forward(cfg, P, e["input_ids"], ad) - lg).abs().max())
                  for e, lg in zip(data[:4], logits[:4]))
        chk(f"{name}: adapter forward vs merged-weight naive forward (abs)", err, 1e-11)
        # autograd grads of the adapter tensors vs BONE.md's closed forms from G = dL/dW'
        for p in ad.tensors:
            for w in ad.tensors[p]:
                ad.tensors[p][w] = ad.tensors[p][w].detach().clone().requires_grad_(True)
        loss, _ = batch_loss(cfg, P, data, ad)
        loss.backward()
        Pm = dict(P)
        for p in ad.tensors:
            W = P[p + ".weight"]
            Pm[p + ".weight"] = (W + delta_w(ad.variant, W, adapter_args(ad, p), ad.opts)).detach().requires_grad_(True)
        lm, _ = batch_loss(cfg, Pm, data)
        lm.backward()
        worst = 0.0
        for p in ad.tensors:
            W, G = P[p + ".weight"], Pm[p + ".weight"].grad
            O, I = W.shape
            t = ad.tensors[p]
            if ad.variant == "lora":
                s = ad.opts["scale"]
                pairs = [(t["A"].grad, s * t["B"].detach().t() @ G), (t["B"].grad, s * G @ t["A"].detach().t())]
            elif ad.variant == "bone-free":
                b = t["B"].shape[0]
                dB = torch.zeros(b, O, dtype=F64)
                for i in range(I):
                    dB[i % b] += G[:, i]
                pairs = [(t["B"].grad, dB)]
            else:
                D = t["D"]
                b = D.shape[-1]
                nA, nC = O // b, I // b
                dD = torch.zeros_like(D)
                for a in range(nA):
                    for c in range(nC):
                        Wb = W[a * b:(a + 1) * b, c * b:(c + 1) * b]
                        Gb = G[a * b:(a + 1) * b, c * b:(c + 1) * b]
                        if ad.variant in ("bone-col", "bone-hadamard"):
                            g = a
                        elif ad.variant == "bone-row":
                            g = c
                        else:
                            gr, gc = ad.opts["grid"]
                            g = (a // gr) * (nC // gc) + c // gc
                        dD[g] += (Wb * Gb if ad.variant == "bone-hadamard" else Wb.t() @ Gb) + Gb
                pairs = [(D.grad, dD)]
            for ag, cf in pairs:
                worst = max(worst, float((ag - cf).abs().max()) / (1e-12 + float(cf.abs().max())))
        chk(f"{name}: autograd grad vs BONE.md closed form (rel)", worst, 1e-10)
        sel = [(p + "." + w, ad.tensors[p][w]) for p in (module_paths(cfg)[0], module_paths(cfg)[11])
               for w in ad.tensors[p]]
        fd_check(chk, name, lambda: batch_loss(cfg, P, data, ad)[0], sel, rng, per_tensor=3)

    print("PiSSA / OLoRA init:")
    worst = {"sum": 0.0, "rank": 0.0, "pissa_s": 0.0, "olora_proj": 0.0, "fwd": 0.0}
    for p in module_paths(cfg):
        W = P[p + ".weight"]
        for fn in (pissa_init, olora_init):
            for s in (1.0, 2.0):
                A, B, res = fn(W, 4, s)
                delta = s * B @ A
                worst["sum"] = max(worst["sum"], float((res + delta - W).abs().max()))
                sv = torch.linalg.svdvals(delta)
                worst["rank"] = max(worst["rank"], float(sv[4]) / float(sv[0]))
        A1, B1, _ = pissa_init(W, 4, 1.0)
        A2, B2, _ = pissa_init(W, 4, 2.0)
        worst["pissa_s"] = max(worst["pissa_s"], float((2.0 * B2 @ A2 - B1 @ A1).abs().max()))
        # OLoRA: s·Q_r·R_r must equal s·Q_r Q_rᵀ W, Q_r from Gram-Schmidt of W's first r columns
        Qs = []
        for j in range(4):
            v = W[:, j].clone()
            for qv in Qs:
                v = v - (qv @ v) * qv
            for qv in Qs:
                v = v - (qv @ v) * qv
            Qs.append(v / v.norm())
        Qg = torch.stack(Qs, 1)
        A, B, _ = olora_init(W, 4, 2.0)
        worst["olora_proj"] = max(worst["olora_proj"], float((2.0 * B @ A - 2.0 * Qg @ Qg.t() @ W).abs().max()))
    chk("residual + delta == W (abs)", worst["sum"], 1e-14)
    chk("delta has rank r (σ5/σ1)", worst["rank"], 1e-12)
    chk("PiSSA delta independent of s (abs)", worst["pissa_s"], 1e-13)
    chk("OLoRA delta == s·Q_r Q_rᵀ W via Gram-Schmidt (abs)", worst["olora_proj"], 1e-13)
    Pr, tensors = dict(P), {}
    for p in module_paths(cfg):
        A, B, res = pissa_init(P[p + ".weight"], 4, 2.0)
        Pr[p + ".weight"] = res
        tensors[p] = {"A": A, "B": B}
    l0, _ = batch_loss(cfg, P, data)
    l1, _ = batch_loss(cfg, Pr, data, Adapter("lora", tensors, scale=2.0))
    chk("PiSSA-initialised model loss == base loss (abs)", abs(float(l0) - float(l1)), 1e-12)

    print("trainer: hand AdamW/clip/schedule vs torch.optim.AdamW + clip_grad_norm_ + LambdaLR:")
    targs = train_case_args()
    for key in ("full_clip", "full_noclip", "full_tied"):
        args = dict(targs[key], steps=4)
        cfg, P0, data = models["gqa_tied_f32" if key == "full_tied" else "gqa_f32"]
        Pa = leaf_params(P0)
        la, ra = train(list(Pa.values()), lambda idx: batch_loss(cfg, Pa, [data[i] for i in idx])[0], args, len(data))
        Pb = leaf_params(P0)
        params = list(Pb.values())
        opt = torch.optim.AdamW(params, lr=args["lr"], betas=(args["beta1"], args["beta2"]),
                                eps=args["eps"], weight_decay=args["weight_decay"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(i, args))
        lb, rb = [], []
        for s in range(args["steps"]):
            opt.zero_grad()
            loss = batch_loss(cfg, Pb, [data[i] for i in step_examples(s, args, len(data))])[0]
            loss.backward()
            lb.append(float(loss))
            rb.append(opt.param_groups[0]["lr"])
            if args["max_grad_norm"] > 0:
                torch.nn.utils.clip_grad_norm_(params, args["max_grad_norm"])
            opt.step()
            sched.step()
        perr = max(float((Pa[n] - Pb[n]).abs().max()) for n in Pa)
        chk(f"{key} (4 steps): params (abs)", perr, 1e-12)
        chk(f"{key} (4 steps): losses and lrs (abs)",
            max(max(abs(x - y) for x, y in zip(la, lb)), max(abs(x - y) for x, y in zip(ra, rb))), 1e-12)
        moved = max(float((Pa[n] - P0[n]).abs().max()) for n in Pa)
        chk(f"{key}: parameters moved (1 if not)", 0.0 if moved > 1e-6 else 1.0, 0)

    print("written files: reload config.json / safetensors / jsonl / adapter files and recompute:")
    tmpdir = os.path.join("/tmp", f"bone_selfcheck_{os.getpid()}")
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        generate(tmpdir, seed, "AB")
    try:
        for name in CASES:
            d = os.path.join(tmpdir, name)
            cfg, P, data = read_model_dir(d)
            exp = load_safetensors(os.path.join(d, "expected.safetensors"))
            loss, logits = batch_loss(cfg, P, data)
            chk(f"{name}: loss from files vs expected (rel)", abs(float(loss) / float(exp["loss"]) - 1), 1e-6)
        cfg, P, data = read_model_dir(os.path.join(tmpdir, "adapters", "base"))
        for name in ADAPTER_VARIANTS:
            d = os.path.join(tmpdir, "adapters", name)
            ad = read_adapter_dir(d, cfg)
            exp = load_safetensors(os.path.join(d, "expected.safetensors"))
            loss, _ = batch_loss(cfg, P, data, ad)
            merr = max(float((P[p + ".weight"] + delta_w(ad.variant, P[p + ".weight"], adapter_args(ad, p), ad.opts)
                              - exp[f"merged.{p}.weight"]).abs().max()) for p in ad.tensors)
            chk(f"adapters/{name}: loss from files vs expected (rel)", abs(float(loss) / float(exp["loss"]) - 1), 1e-6)
            chk(f"adapters/{name}: merged weights from files vs expected (abs)", merr, 1e-6)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    print(f"selfcheck: {'PASS' if chk.fail == 0 else f'FAIL ({chk.fail} checks)'} in {time.time() - t0:.1f}s")
    return 0 if chk.fail == 0 else 1


# =============================================================================================
# Driver
# =============================================================================================

def generate(out, seed, parts):
    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    models = {}
    for name in CASES:
        models[name] = model_case(out, name, seed)
        print(f"[{time.time() - t0:6.2f}s] {name}", flush=True)
    if "B" in parts or "C" in parts:
        cfg, P, data = models["gqa_f32"]
        base = os.path.join(out, "adapters", "base")
        os.makedirs(base, exist_ok=True)
        for f in ("config.json", "model.safetensors", "data.jsonl"):
            shutil.copyfile(os.path.join(out, "gqa_f32", f), os.path.join(base, f))
        adapters = {}
        for i, name in enumerate(ADAPTER_VARIANTS):
            adapters[name] = adapter_case(out, name, cfg, P, data, seed, i)
            print(f"[{time.time() - t0:6.2f}s] adapters/{name}", flush=True)
        init_refs(out, cfg, P)
        print(f"[{time.time() - t0:6.2f}s] adapters/pissa_init, olora_init", flush=True)
    if "C" in parts:
        for name, args in train_case_args().items():
            train_case(out, name, args, models, adapters)
            print(f"[{time.time() - t0:6.2f}s] train_{name}", flush=True)
    print(f"done in {time.time() - t0:.2f}s -> {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--parts", default="ABC", help="which parts to write (A, AB or ABC)")
    ap.add_argument("--selfcheck", action="store_true", help="run the internal consistency checks")
    a = ap.parse_args()
    if not a.out and not a.selfcheck:
        ap.error("give --out DIR and/or --selfcheck")
    rc = 0
    if a.selfcheck:
        rc = selfcheck(a.seed)
    if a.out:
        generate(a.out, a.seed, a.parts)
    sys.exit(rc)


if __name__ == "__main__":
    main()
