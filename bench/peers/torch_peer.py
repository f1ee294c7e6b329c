#!/usr/bin/python3
"""torch_peer.py — the PyTorch route a user would otherwise take, as a timing peer for `bone bench`.

Eager PyTorch (Debian's python3-torch 1.13), fp32, the same Llama shapes (read from the model's
config.json and weights from its model.safetensors), the same token batches (the same JSONL, B
sequences of T tokens per step, HF causal-LM labels), and the same adapter formulas as BONE.md:
  lora:      y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ,   A (r, I), B (O, r) zeros, α = r
  bone-col:  W'_{a,c} = W_{a,c} + W_{a,c}·D[a] + D[a]  (PEFT's "bat" form), y = x·W'ᵀ
  full:      every tensor trains
written the way PEFT / HF eager write them (autograd keeps what it keeps). A step is
zero_grad, forward, loss, backward, clip_grad_norm_(1.0), AdamW(lr 1e-4) — as `bone bench`.
Prints one JSON line: method, median step time, peak RSS, losses. One method per process
(peak RSS is per process). The tuning (OPENBLAS_CORETYPE, LD_PRELOAD=tcmalloc) is the
caller's environment; see bench/bench.sh.
--autocast bf16 runs forward and loss under torch.autocast("cpu", torch.bfloat16) — PyTorch's
mixed precision (bf16 matmul inputs, fp32 master weights and AdamW state), the peer of
`bone --compute bf16`; the default (off) keeps the fp32 peer. On a CPU without AVX512-BF16/AMX
PyTorch still runs it (converting in software): the JSON records the mode, not whether it paid.
usage: torch_peer.py --model DIR --data FILE --method lora:8|bone-col:16|full
                     [--batch 4] [--seq 256] [--steps 5] [--warmup 2] [--threads 2] [--autocast off|bf16]
"""
import argparse
import json
import math
import os
import resource
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = np.asarray(mm[base + a:base + b])
        if info["dtype"] == "F32":
            arr = raw.view(np.float32).copy()
        elif info["dtype"] == "BF16":
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"torch_peer: dtype {info['dtype']} not handled")
        out[name] = torch.from_numpy(arr.reshape(info["shape"]))
    return out


class Linear(torch.nn.Module):
    def __init__(self, W, method, k):
        super().__init__()
        self.method = method
        O, I = W.shape
        self.weight = torch.nn.Parameter(W, requires_grad=(method == "full"))
        if method == "lora":
            self.r = k
            A = torch.empty(k, I).uniform_(-1.0 / math.sqrt(I), 1.0 / math.sqrt(I))
            self.A = torch.nn.Parameter(A)
            self.B = torch.nn.Parameter(torch.zeros(O, k))
            self.scale = 1.0  # alpha = r
        elif method == "bone-col":
            self.b = k
            self.D = torch.nn.Parameter(torch.zeros(O // k, k, k))

    def forward(self, x):
        if self.method == "lora":
            return F.linear(x, self.weight) + self.scale * F.linear(F.linear(x, self.A), self.B)
        if self.method == "bone-col":
            O, I = self.weight.shape
            b = self.b
            w = self.weight.reshape(O // b, b, I // b, b).permute(0, 2, 1, 3)  # (nA, nC, b, b)
            D = self.D.unsqueeze(1)                                            # (nA, 1, b, b)
            wp = (w + w @ D + D).permute(0, 2, 1, 3).reshape(O, I)
            return F.linear(x, wp)
        return F.linear(x, self.weight)


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Model(torch.nn.Module):
    def __init__(self, cfg, W, method, k):
        super().__init__()
        self.cfg = cfg
        full = method == "full"
        P = lambda t: torch.nn.Parameter(t, requires_grad=full)
        self.embed = P(W["model.embed_tokens.weight"])
        self.norm = P(W["model.norm.weight"])
        self.lm_head = P(W["lm_head.weight"])
        self.layers = torch.nn.ModuleList()
        for l in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            m = torch.nn.Module()
            m.ln1 = P(W[p + "input_layernorm.weight"])
            m.ln2 = P(W[p + "post_attention_layernorm.weight"])
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                setattr(m, n, Linear(W[p + "self_attn." + n + ".weight"], method, k))
            for n in ("gate_proj", "up_proj", "down_proj"):
                setattr(m, n, Linear(W[p + "mlp." + n + ".weight"], method, k))
            self.layers.append(m)
        H = cfg["hidden_size"]
        nh = cfg["num_attention_heads"]
        self.d = cfg.get("head_dim", H // nh)
        inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, self.d, 2, dtype=torch.float64) / self.d))
        self.inv = inv

    def forward(self, ids, targets):
        cfg = self.cfg
        B, T = ids.shape
        nh, nkv, d, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], self.d, cfg["rms_norm_eps"]
        phi = torch.arange(T, dtype=torch.float64)[:, None] * self.inv[None, :]
        emb = torch.cat((phi, phi), dim=-1)
        cos, sin = emb.cos().float(), emb.sin().float()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = F.embedding(ids, self.embed)
        for m in self.layers:
            h = rms(x, m.ln1, eps)
            q = m.q_proj(h).view(B, T, nh, d).transpose(1, 2)
            kk = m.k_proj(h).view(B, T, nkv, d).transpose(1, 2)
            v = m.v_proj(h).view(B, T, nkv, d).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            kk = kk * cos + rotate_half(kk) * sin
            if nkv != nh:
                kk = kk.repeat_interleave(nh // nkv, dim=1)
                v = v.repeat_interleave(nh // nkv, dim=1)
            s = q @ kk.transpose(-1, -2) / math.sqrt(d) + mask
            a = torch.softmax(s, dim=-1) @ v
            x = x + m.o_proj(a.transpose(1, 2).reshape(B, T, nh * d))
            h = rms(x, m.ln2, eps)
            x = x + m.down_proj(F.silu(m.gate_proj(h)) * m.up_proj(h))
        logits = F.linear(rms(x, self.norm, eps), self.lm_head)
        return F.cross_entropy(logits.view(B * T, -1), targets.view(-1), ignore_index=-100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--method", required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--autocast", choices=["off", "bf16"], default="off")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    method, _, k = a.method.partition(":")
    k = int(k) if k else (16 if method.startswith("bone") else 8)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    W = load_safetensors(os.path.join(a.model, "model.safetensors"))
    if "lm_head.weight" not in W:
        W["lm_head.weight"] = W["model.embed_tokens.weight"]
    model = Model(cfg, W, method, k)
    del W
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, foreach=True)
    except TypeError:
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    ex = [json.loads(l)["input_ids"][: a.seq] for l in open(a.data) if l.strip()]
    n = a.steps + a.warmup
    dts, losses = [], []
    for s in range(n):
        rows = [ex[(s * a.batch + j) % len(ex)] for j in range(a.batch)]
        ids = torch.tensor(rows, dtype=torch.long)
        tg = torch.full_like(ids, -100)
        tg[:, :-1] = ids[:, 1:]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if a.autocast == "bf16":
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                loss = model(ids, tg)
        else:
            loss = model(ids, tg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dts.append(time.perf_counter() - t0)
        losses.append(loss.item())
    t = sorted(dts[a.warmup:])
    med = t[len(t) // 2] if len(t) % 2 else 0.5 * (t[len(t) // 2 - 1] + t[len(t) // 2])
    print(json.dumps({"method": a.method, "step_s": med, "tokens_per_s": a.batch * a.seq / med,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "trainable": sum(p.numel() for p in params), "losses": losses,
                      "autocast": a.autocast, "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
                      "preload": os.environ.get("LD_PRELOAD", "")}))


if __name__ == "__main__":
    main()
