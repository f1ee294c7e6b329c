#!/usr/bin/python3
"""rwkv6_ref.py — an independent float64 RWKV-6 ("Finch", x060) oracle, written from
docs/FORMATS.md §6 (not from bone's C code): tiny models in the HF layout, data, and the
expected logits, loss and the gradient of every parameter (autograd in float64).

usage: /usr/bin/python3 tests/reference/rwkv6_ref.py --out DIR

DIR/rwkv6_<case>/  config.json  model.safetensors  data.jsonl  expected.safetensors
  expected: logits.<k> (T_k, V) per example, loss (mean over label tokens), and
            grad.<HF name> for every tensor (of that mean loss).
DIR/rwkv6_adapter_{bone-col,lora}/expected.safetensors: on rwkv6_hs8_f32, a random non-zero
  adapter on all 8 block linears (bone-col b=8; lora r=4, alpha 8) with every time/ln tensor
  trainable too: value.<param> (the adapter), loss, grad.<param> for the adapter and the
  time/ln tensors (bone's parameter names: <module>.bone_D, .lora_A, .lora_B).
Needs only Debian's python3-torch and numpy (own safetensors writer, FORMATS.md §1).
"""
import argparse
import json
import math
import os

import numpy as np
import torch

torch.set_num_threads(1)
D = torch.float64


# ---- safetensors (FORMATS.md §1) -----------------------------------------------------------

def bf16_bits(a32):
    u = np.ascontiguousarray(a32, dtype="<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def as_stored(t, dt):
    """the float64 value the C code reads back for t stored as dt"""
    a = t.detach().numpy().astype(np.float32)
    if dt == "BF16":
        a = (bf16_bits(a).astype(np.uint32) << 16).view("<f4")
    elif dt == "F16":
        a = a.astype(np.float16).astype(np.float32)
    return torch.from_numpy(a.astype(np.float64))


def write_st(path, tensors, dtypes=None):
    items = []
    for name in sorted(tensors):
        t = tensors[name]
        dt = (dtypes or {}).get(name, "F32")
        a = t.detach().to(D).numpy().astype(np.float32)
        raw = (bf16_bits(a).tobytes() if dt == "BF16" else a.astype("<f2").tobytes() if dt == "F16"
               else np.ascontiguousarray(a, "<f4").tobytes())
        items.append((name, dt, list(t.shape), raw))
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dt, shape, raw in items:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hb = json.dumps(hdr, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little") + hb)
        for it in items:
            f.write(it[3])


# ---- the model (FORMATS.md §6.1-6.4) -------------------------------------------------------

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased
    return (x - mu) / torch.sqrt(var + eps) * w + b


def token_shift(x):
    """shift(x)_t = x_{t-1}, shift(x)_0 = 0; x is (T, C)"""
    return torch.cat([torch.zeros_like(x[:1]), x[:-1]], 0)


def wkv6(r, k, v, w, u, H, n):
    """sequential scan per head: y_t[j] = sum_i r[i](u[i]k[i]v[j] + S[i][j]); S = w*S + k v^T"""
    T = r.shape[0]
    S = torch.zeros(H, n, n, dtype=D)
    ys = []
    for t in range(T):
        rt, kt, vt, wt = (z[t].view(H, n) for z in (r, k, v, w))
        kv = kt[:, :, None] * vt[:, None, :]
        ys.append(torch.einsum("hi,hij->hj", rt, u[:, :, None] * kv + S).reshape(-1))
        S = wt[:, :, None] * S + kv
    return torch.stack(ys, 0)


def forward(cfg, P, ids):
    C, H, n = cfg["hidden_size"], cfg["attention_hidden_size"] // cfg["head_size"], cfg["head_size"]
    eps, geps = cfg["layer_norm_epsilon"], 1e-5 * cfg["head_size_divisor"] ** 2
    x = P["rwkv.embeddings.weight"][torch.tensor(ids)]
    x = layer_norm(x, P["rwkv.blocks.0.pre_ln.weight"], P["rwkv.blocks.0.pre_ln.bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = lambda s: P["rwkv.blocks.%d.%s" % (l, s)]
        lin = lambda s, z: z @ p(s + ".weight").T
        # TimeMix
        a = layer_norm(x, p("ln1.weight"), p("ln1.bias"), eps)
        dx = token_shift(a) - a
        xxx = a + dx * p("attention.time_maa_x").reshape(C)
        Dm = p("attention.time_maa_w2").shape[1]
        zz = torch.tanh(xxx @ p("attention.time_maa_w1"))
        mw, mk, mv, mr, mg = (zz[:, j * Dm:(j + 1) * Dm] @ p("attention.time_maa_w2")[j] for j in range(5))
        maa = lambda s: p("attention.time_maa_" + s).reshape(C)
        xw, xk, xv = a + dx * (maa("w") + mw), a + dx * (maa("k") + mk), a + dx * (maa("v") + mv)
        xr, xg = a + dx * (maa("r") + mr), a + dx * (maa("g") + mg)
        r, k, v = lin("attention.receptance", xr), lin("attention.key", xk), lin("attention.value", xv)
        g = torch.nn.functional.silu(lin("attention.gate", xg))
        wraw = p("attention.time_decay").reshape(C) + torch.tanh(xw @ p("attention.time_decay_w1")) @ p("attention.time_decay_w2")
        w = torch.exp(-torch.exp(wraw))
        y = wkv6(r, k, v, w, p("attention.time_faaaa"), H, n)
        yh = y.view(-1, H, n)
        mu = yh.mean(-1, keepdim=True)
        var = ((yh - mu) ** 2).mean(-1, keepdim=True)
        o = ((yh - mu) / torch.sqrt(var + geps)).reshape(-1, C) * p("attention.ln_x.weight") + p("attention.ln_x.bias")
        x = x + lin("attention.output", o * g)
        # ChannelMix
        b = layer_norm(x, p("ln2.weight"), p("ln2.bias"), eps)
        dx = token_shift(b) - b
        fk = b + dx * p("feed_forward.time_maa_k").reshape(C)
        fr = b + dx * p("feed_forward.time_maa_r").reshape(C)
        kk = torch.relu(lin("feed_forward.key", fk)) ** 2
        x = x + torch.sigmoid(lin("feed_forward.receptance", fr)) * lin("feed_forward.value", kk)
    x = layer_norm(x, P["rwkv.ln_out.weight"], P["rwkv.ln_out.bias"], 1e-5)  # ln_out: eps 1e-5 always
    return x @ P["head.weight"].T


def xent(logits, labels):
    tgt = torch.tensor(labels[1:])
    keep = tgt != -100
    lp = torch.log_softmax(logits[:-1], -1)
    return -lp[keep].gather(1, tgt[keep][:, None]).sum(), int(keep.sum())


# ---- cases ----------------------------------------------------------------------------------

LIN = ["attention.receptance", "attention.key", "attention.value", "attention.gate", "attention.output",
       "feed_forward.key", "feed_forward.receptance", "feed_forward.value"]


def make_params(cfg, Dm, Dd, g):
    C, V, L = cfg["hidden_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    n = cfg["head_size"]
    H = C // n
    F = cfg["intermediate_size"] or int((C * 3.5) // 32 * 32)
    N = lambda *s, sd=1.0: torch.randn(*s, generator=g, dtype=D) * sd
    U = lambda *s, lo=0.0, hi=1.0: lo + (hi - lo) * torch.rand(*s, generator=g, dtype=D)
    P = {"rwkv.embeddings.weight": N(V, C), "head.weight": N(V, C, sd=0.3),
         "rwkv.blocks.0.pre_ln.weight": 1 + N(C, sd=0.1), "rwkv.blocks.0.pre_ln.bias": N(C, sd=0.1),
         "rwkv.ln_out.weight": 1 + N(C, sd=0.1), "rwkv.ln_out.bias": N(C, sd=0.1)}
    for l in range(L):
        pre = "rwkv.blocks.%d." % l
        for s in ("ln1", "ln2", "attention.ln_x"):
            P[pre + s + ".weight"] = 1 + N(C, sd=0.1)
            P[pre + s + ".bias"] = N(C, sd=0.1)
        for s in "xwkvrg":
            P[pre + "attention.time_maa_" + s] = U(1, 1, C)
        P[pre + "attention.time_maa_w1"] = N(C, 5 * Dm, sd=0.2)
        P[pre + "attention.time_maa_w2"] = N(5, Dm, C, sd=0.2)
        P[pre + "attention.time_decay"] = U(1, 1, C, lo=-3.0, hi=0.5)
        P[pre + "attention.time_decay_w1"] = N(C, Dd, sd=0.2)
        P[pre + "attention.time_decay_w2"] = N(Dd, C, sd=0.2)
        P[pre + "attention.time_faaaa"] = N(H, n, sd=0.5)
        P[pre + "feed_forward.time_maa_k"] = U(1, 1, C)
        P[pre + "feed_forward.time_maa_r"] = U(1, 1, C)
        for s in LIN:
            O = F if s == "feed_forward.key" else C
            I = F if s == "feed_forward.value" else C
            P[pre + s + ".weight"] = N(O, I, sd=1.0 / math.sqrt(I))
    return P


def make_data(V, g, n=6):
    """examples of 3..41 tokens (example 0 is 41 long: more than one 32-token chunk, not a
    multiple of it); example 2 has its first 4 labels -100; example 4 has no "labels" key"""
    ex = []
    for k in range(n):
        T = 41 if k == 0 else 3 if k == 1 else int(torch.randint(5, 20, (1,), generator=g))
        ids = torch.randint(0, V, (T,), generator=g).tolist()
        e = {"input_ids": ids}
        if k == 2:
            e["labels"] = [-100] * 4 + ids[4:]
        elif k != 4:
            e["labels"] = list(ids)
        ex.append(e)
    return ex


def labels_of(e):
    return e.get("labels", e["input_ids"])


def batch_loss(cfg, P, data):
    tot, cnt, logits = 0.0, 0, []
    for e in data:
        lg = forward(cfg, P, e["input_ids"])
        s, c = xent(lg, labels_of(e))
        tot, cnt = tot + s, cnt + c
        logits.append(lg)
    return tot / cnt, logits


def write_case(out, name, cfg, P, dtypes, data):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    write_st(os.path.join(d, "model.safetensors"), P, dtypes)
    with open(os.path.join(d, "data.jsonl"), "w") as f:
        for e in data:
            f.write(json.dumps(e) + "\n")
    # everything below from the stored values
    S = {k: as_stored(v, dtypes.get(k, "F32")).requires_grad_(True) for k, v in P.items()}
    loss, logits = batch_loss(cfg, S, data)
    loss.backward()
    exp = {"loss": loss.detach().reshape(1)}
    for k, lg in enumerate(logits):
        exp["logits.%d" % k] = lg.detach()
    for k, v in S.items():
        exp["grad." + k] = v.grad
    write_st(os.path.join(d, "expected.safetensors"), exp)
    return S


def hf_config(V, C, L, n, div, inter, eps):
    return {"architectures": ["Rwkv6ForCausalLM"], "model_type": "rwkv6", "vocab_size": V, "hidden_size": C,
            "attention_hidden_size": C, "head_size": n, "head_size_divisor": div, "intermediate_size": inter,
            "num_hidden_layers": L, "layer_norm_epsilon": eps, "num_attention_heads": 64, "rescale_every": 6,
            "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float32"}


# ---- adapters on the 8 block linears (docs/BONE.md; LoRA) -------------------------------

def bone_col_w(W, D, b):
    """bone-col: D holds O/b matrices, one per row-block a; W'_{a,c} = W_{a,c}(I + D[a]) + D[a]"""
    O, I = W.shape
    Wb = W.reshape(O // b, b, I // b, b).permute(0, 2, 1, 3)  # (O/b, I/b, b, b): block (a, c)
    Wp = Wb + Wb @ D[:, None] + D[:, None]
    return Wp.permute(0, 2, 1, 3).reshape(O, I)


def adapter_case(out, base, cfg, S, data, variant, g):
    """one training step's loss and gradients with a random non-zero adapter on every block
    linear, and every time/ln tensor trainable beside it (--train-extra time,ln)"""
    b, r, alpha = 8, 4, 8.0
    ad = {}
    for l in range(cfg["num_hidden_layers"]):
        for s_ in LIN:
            mod = "rwkv.blocks.%d.%s" % (l, s_)
            O, I = S[mod + ".weight"].shape
            if variant == "bone-col":
                ad[mod + ".bone_D"] = (torch.randn(O // b, b, b, generator=g, dtype=D) * 0.1).requires_grad_(True)
            else:
                ad[mod + ".lora_A"] = (torch.randn(r, I, generator=g, dtype=D) * 0.2).requires_grad_(True)
                ad[mod + ".lora_B"] = (torch.randn(O, r, generator=g, dtype=D) * 0.2).requires_grad_(True)
    Q = {k: v.detach().clone().requires_grad_(True) for k, v in S.items()}
    P2 = dict(Q)
    for l in range(cfg["num_hidden_layers"]):
        for s_ in LIN:
            mod = "rwkv.blocks.%d.%s" % (l, s_)
            W = Q[mod + ".weight"].detach()
            if variant == "bone-col":
                P2[mod + ".weight"] = bone_col_w(W, ad[mod + ".bone_D"], b)
            else:
                P2[mod + ".weight"] = W + (alpha / r) * ad[mod + ".lora_B"] @ ad[mod + ".lora_A"]
    loss, _ = batch_loss(cfg, P2, data)
    loss.backward()
    exp = {"loss": loss.detach().reshape(1)}
    for k, v in ad.items():
        exp["value." + k] = v.detach()
        exp["grad." + k] = v.grad
    for k, v in Q.items():
        if ("time" in k or "ln" in k) and not any(k.startswith("rwkv.blocks.%d.%s." % (l, s_))
                                                  for l in range(cfg["num_hidden_layers"]) for s_ in LIN):
            exp["grad." + k] = v.grad
    d = os.path.join(out, "rwkv6_adapter_" + variant)
    os.makedirs(d, exist_ok=True)
    write_st(os.path.join(d, "expected.safetensors"), exp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=606)
    a = ap.parse_args()
    g = torch.Generator().manual_seed(a.seed)
    # case 1: head size 8, D_MIX 4, D_DECAY 8, divisor 2, intermediate null (3.5x rule: 96), f32
    cfg = hf_config(48, 32, 2, 8, 2, None, 1e-5)
    P = make_params(cfg, 4, 8, g)
    data = make_data(48, g)
    S = write_case(a.out, "rwkv6_hs8_f32", cfg, P, {}, data)
    for variant in ("bone-col", "lora"):
        adapter_case(a.out, "rwkv6_hs8_f32", cfg, S, data, variant, g)
    # case 2: head size 16, D_MIX 6, D_DECAY 10, divisor 4, intermediate 64, eps 1e-4 (ln_out keeps 1e-5),
    # bf16 weights with time_decay kept in f32 and time_faaaa in f16 (dtypes per tensor)
    cfg2 = hf_config(40, 32, 2, 16, 4, 64, 1e-4)
    cfg2["torch_dtype"] = "bfloat16"
    P2 = make_params(cfg2, 6, 10, g)
    dt2 = {k: ("F32" if ("time_decay" in k and "_w" not in k) else "F16" if "time_faaaa" in k else "BF16") for k in P2}
    data2 = make_data(40, g)
    write_case(a.out, "rwkv6_hs16_bf16", cfg2, P2, dt2, data2)


if __name__ == "__main__":
    main()
