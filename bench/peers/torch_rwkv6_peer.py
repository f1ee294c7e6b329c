#!/usr/bin/python3
"""torch_rwkv6_peer.py — the PyTorch route a user would take for RWKV-6, as a timing peer for
`bone bench` on an RWKV-6 model (issue 16), and a check that it computes what bone computes.

Eager PyTorch (Debian's python3-torch 1.13), fp32 compute (bf16 stored weights are widened on
load, as `model.float()` would), written from docs/FORMATS.md §6 as an nn.Module with autograd:
LayerNorms, the ddlerp token shift, the data-dependent decay, GroupNorm over heads and the
ChannelMix, and the WKV6 recurrence in the chunked form (chunks of --chunk tokens, 32 as in
bone): inside a chunk, with a_t the cumulative log-decay before step t, the pairs σ < t are
(r_t⊙e^{a_t})·(k_σ⊙e^{−a_{σ+1}})ᵀ — one (L×L) product per chunk and head — plus the bonus
Σ r⊙u⊙k on the diagonal; across chunks the state S (hs×hs per head) carries
y += (r⊙e^{a})·S and S ← e^{A}⊙S + (k⊙e^{A−a_{σ+1}})ᵀ·V. The factorisation needs the
cumulative decay of a chunk to stay above −60 (e^{60} is still a finite fp32); bone cuts a
chunk where it would not, this peer halves the chunk length of the whole call until every chunk
fits (a fresh model, such as the bench's, never needs it; models/rwkv6, trained, takes 16 in
some layers); the JSON line records the smallest length used.
Adapters (bench/peers/torch_peer.py's Linear, the same formulas as BONE.md) go on the 8 block
linears attention.{receptance,key,value,gate,output}, feed_forward.{key,receptance,value}.
A step is zero_grad, forward, loss, backward, clip_grad_norm_(1.0), AdamW(lr 1e-4), as
`bone bench`; one JSON line per process: method, median step time, tokens/s, peak RSS, losses.

--check runs the bone binary on the same model and data and compares, in fp32 tolerance:
  the loss of `bone score` with the peer's forward loss;
  per-tensor gradients: `bone train` one step with --lr L --adam-eps L --max-grad-norm 0 (AdamW's
  first step is then p ← p − g·(1 + O(|g|/L)), so the saved values give −g), for bone-col with
  --train-extra time,ln (the bone_D of every linear and every time_*/ln* tensor) and for lora
  (A is unchanged on step 1 since B = 0, so the peer loads bone's A and compares lora_B).
Exit status 1 on any mismatch.

usage: torch_rwkv6_peer.py --model DIR --data FILE --method lora:32|bone-col:64|full
                           [--batch 4] [--seq 256] [--steps 3] [--warmup 1] [--threads 2] [--chunk 32]
       torch_rwkv6_peer.py --check --model DIR --bone BONE_BINARY [--work DIR] [--threads 2] [--verbose]
"""
import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import Linear, load_safetensors  # noqa: E402  (the Llama peer's loader and adapters)

LIN_ATT = ("receptance", "key", "value", "gate", "output")
LIN_FFN = ("key", "receptance", "value")
SPAN = 60.0  # the chunked factorisation's limit on a chunk's cumulative log-decay


def fit_chunk(logw, L):
    """the largest chunk length <= L (halving) whose chunks keep their cumulative log-decay,
    before each chunk's last step, above -SPAN; logw (B, T, H, n)"""
    with torch.no_grad():
        while L > 1:
            T = logw.shape[1]
            lw = F.pad(logw, (0, 0, 0, 0, 0, (-T) % L))
            a = torch.cumsum(lw.reshape(lw.shape[0], -1, L, *lw.shape[2:]), dim=2)[:, :, :-1]
            if a.min().item() >= -SPAN:
                break
            L //= 2
    return L


def wkv6_chunked(r, k, v, logw, u, L, used=None):
    """y for r, k, v, logw (B, T, H, n) and u (H, n), zero initial state; chunks of L tokens
    (halved while a chunk's decay would leave the factorisation's range; used records it)"""
    L = fit_chunk(logw, L)
    if used is not None:
        used.append(L)
    B, T, H, n = r.shape
    pad = (-T) % L
    if pad:  # trailing zero tokens (logw 0, k 0) change nothing before them
        z = lambda t: F.pad(t, (0, 0, 0, 0, 0, pad))
        r, k, v, logw = z(r), z(k), z(v), z(logw)
    nc = (T + pad) // L
    sh = lambda t: t.reshape(B, nc, L, H, n).permute(0, 3, 1, 2, 4)  # (B, H, nc, L, n)
    r, k, v, logw = sh(r), sh(k), sh(v), sh(logw)
    a_in = torch.cumsum(logw, dim=3)          # a_{t+1}: decay up to and including step t
    a_ex = a_in - logw                        # a_t: decay before step t
    A = a_in[:, :, :, -1:, :]                 # (B, H, nc, 1, n) the whole chunk
    # the last token is never the key of an intra-chunk pair: its factor is masked, keep it finite
    last = torch.zeros_like(a_in)
    last[:, :, :, -1, :] = 1.0
    q = r * torch.exp(a_ex)                                    # (B, H, nc, L, n)
    kk = k * torch.exp(-a_in * (1.0 - last))
    P = (q @ kk.transpose(-1, -2)).tril(-1)                    # (B, H, nc, L, L), σ < t
    bonus = (r * u[None, :, None, None, :] * k).sum(-1, keepdim=True)  # (B, H, nc, L, 1)
    y = P @ v + bonus * v
    kd = k * torch.exp(A - a_in)                               # key weights into the chunk's end state
    eA = torch.exp(A).transpose(-1, -2)                        # (B, H, nc, n, 1) per key channel
    # the state at each chunk's start (unbind, not y[:, :, c]: indexing in a loop makes autograd
    # build a zero-filled full-size gradient per slice), then every chunk's y += q·S at once
    S = r.new_zeros(B, H, n, n)
    states = [S]
    for eAc, kdc, vc in list(zip(eA.unbind(2), kd.unbind(2), v.unbind(2)))[:-1]:
        S = eAc * S + kdc.transpose(-1, -2) @ vc
        states.append(S)
    y = y + q @ torch.stack(states, dim=2)                     # (B, H, nc, L, n)
    y = y.permute(0, 2, 3, 1, 4).reshape(B, nc * L, H, n)
    return y[:, :T]


def shift(x):
    """x_{t-1}, zero at t = 0; x (B, T, C)"""
    return F.pad(x, (0, 0, 1, -1))


class Block(torch.nn.Module):
    def __init__(self, W, p, cfg, method, k, extra):
        super().__init__()
        self.C = cfg["hidden_size"]
        self.n = cfg["head_size"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.geps = 1e-5 * cfg.get("head_size_divisor", 8) ** 2
        self.vec = torch.nn.ParameterDict()
        for name, t in W.items():
            if name.startswith(p) and not name.endswith(tuple(f".{s}.weight" for s in LIN_ATT)):
                key = name[len(p):]
                if key.startswith(("attention.", "feed_forward.", "ln1.", "ln2.")):
                    trainable = method == "full" or ("time" in key and "time" in extra) or ("ln" in key and "ln" in extra)
                    self.vec[key.replace(".", "__")] = torch.nn.Parameter(t, requires_grad=trainable)
        self.att = torch.nn.ModuleDict({s: Linear(W[f"{p}attention.{s}.weight"], method, k) for s in LIN_ATT})
        self.ffn = torch.nn.ModuleDict({s: Linear(W[f"{p}feed_forward.{s}.weight"], method, k) for s in LIN_FFN})

    def g(self, key):
        return self.vec[key.replace(".", "__")]

    def forward(self, x, chunk, used=None):
        B, T, C = x.shape
        g, n = self.g, self.n
        H = C // n
        # TimeMix
        a = F.layer_norm(x, (C,), g("ln1.weight"), g("ln1.bias"), self.eps)
        d = shift(a) - a
        xxx = a + d * g("attention.time_maa_x").view(C)
        z = torch.tanh(xxx @ g("attention.time_maa_w1"))                          # (B, T, 5·D)
        w2 = g("attention.time_maa_w2")                                           # (5, D, C)
        m = torch.einsum("btjd,jdc->jbtc", z.view(B, T, 5, -1), w2)              # w, k, v, r, g
        maa = [g(f"attention.time_maa_{s}").view(C) for s in "wkvrg"]
        xw, xk, xv, xr, xg = (a + d * (mj_ + mj) for mj_, mj in zip(maa, m.unbind(0)))
        r = self.att["receptance"](xr)
        kk = self.att["key"](xk)
        v = self.att["value"](xv)
        gate = F.silu(self.att["gate"](xg))
        wraw = g("attention.time_decay").view(C) + torch.tanh(xw @ g("attention.time_decay_w1")) @ g("attention.time_decay_w2")
        logw = -torch.exp(wraw)
        y = wkv6_chunked(r.view(B, T, H, n), kk.view(B, T, H, n), v.view(B, T, H, n), logw.view(B, T, H, n),
                         g("attention.time_faaaa").view(H, n), chunk, used).reshape(B * T, C)
        o = F.group_norm(y, H, g("attention.ln_x.weight"), g("attention.ln_x.bias"), self.geps).view(B, T, C)
        x = x + self.att["output"](o * gate)
        # ChannelMix
        b = F.layer_norm(x, (C,), g("ln2.weight"), g("ln2.bias"), self.eps)
        d = shift(b) - b
        fk = b + d * g("feed_forward.time_maa_k").view(C)
        fr = b + d * g("feed_forward.time_maa_r").view(C)
        h = torch.relu(self.ffn["key"](fk)).square()
        return x + torch.sigmoid(self.ffn["receptance"](fr)) * self.ffn["value"](h)


class Model(torch.nn.Module):
    def __init__(self, cfg, W, method, k, extra=()):
        super().__init__()
        full = method == "full"
        P = lambda name, grp=None: torch.nn.Parameter(W[name], requires_grad=full or (grp is not None and grp in extra))
        self.emb = P("rwkv.embeddings.weight")
        self.ln0_w, self.ln0_b = P("rwkv.blocks.0.pre_ln.weight", "ln"), P("rwkv.blocks.0.pre_ln.bias", "ln")
        self.lno_w, self.lno_b = P("rwkv.ln_out.weight", "ln"), P("rwkv.ln_out.bias", "ln")
        self.head = P("head.weight")
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.blocks = torch.nn.ModuleList(
            Block(W, f"rwkv.blocks.{i}.", cfg, method, k, extra) for i in range(cfg["num_hidden_layers"]))

    def logits(self, ids, chunk=32):
        """(B, T, V) for ids (B, T)"""
        C = self.emb.shape[1]
        self.chunks_used = []
        x = F.layer_norm(F.embedding(ids, self.emb), (C,), self.ln0_w, self.ln0_b, self.eps)
        for blk in self.blocks:
            x = blk(x, chunk, self.chunks_used)
        return F.linear(F.layer_norm(x, (C,), self.lno_w, self.lno_b, 1e-5), self.head)

    def forward(self, ids, targets, chunk=32):
        logits = self.logits(ids, chunk)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-100)

    def named_trainables(self):
        """(HF name, parameter) of every trainable tensor outside the adapters"""
        out = {}
        glob = {"emb": "rwkv.embeddings.weight", "ln0_w": "rwkv.blocks.0.pre_ln.weight",
                "ln0_b": "rwkv.blocks.0.pre_ln.bias", "lno_w": "rwkv.ln_out.weight", "lno_b": "rwkv.ln_out.bias",
                "head": "head.weight"}
        for a, name in glob.items():
            if getattr(self, a).requires_grad:
                out[name] = getattr(self, a)
        for i, blk in enumerate(self.blocks):
            for key, p in blk.vec.items():
                if p.requires_grad:
                    out[f"rwkv.blocks.{i}.{key.replace('__', '.')}"] = p
        return out


def load(model_dir, method, k, extra=()):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    W = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    return cfg, Model(cfg, W, method, k, extra)


def batch(rows):
    ids = torch.tensor(rows, dtype=torch.long)
    tg = torch.full_like(ids, -100)
    tg[:, :-1] = ids[:, 1:]
    return ids, tg


def bench(a):
    method, _, k = a.method.partition(":")
    k = int(k) if k else (64 if method.startswith("bone") else 32)
    cfg, model = load(a.model, method, k)
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0, foreach=True)
    except TypeError:
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    ex = [json.loads(l)["input_ids"][: a.seq] for l in open(a.data) if l.strip()]
    dts, losses, chunk_min = [], [], a.chunk
    for s in range(a.steps + a.warmup):
        ids, tg = batch([ex[(s * a.batch + j) % len(ex)] for j in range(a.batch)])
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(ids, tg, a.chunk)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dts.append(time.perf_counter() - t0)
        losses.append(loss.item())
        chunk_min = min([chunk_min] + model.chunks_used)
    t = sorted(dts[a.warmup:])
    med = t[len(t) // 2] if len(t) % 2 else 0.5 * (t[len(t) // 2 - 1] + t[len(t) // 2])
    print(json.dumps({"method": a.method, "step_s": med, "tokens_per_s": a.batch * a.seq / med,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "trainable": sum(p.numel() for p in params), "losses": losses, "chunk": a.chunk, "chunk_min": chunk_min,
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
                      "preload": os.environ.get("LD_PRELOAD", "")}), flush=True)


# ---- --check: against the bone binary ------------------------------------------------------

def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        raise SystemExit(f"check: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


class Checker:
    """prints every failure and the scalar checks; per-tensor passes only with --verbose"""

    def __init__(self, verbose):
        self.bad, self.n, self.worst, self.verbose = 0, 0, (0.0, ""), verbose

    def close(self, what, got, want, rtol, atol=0.0, loud=False):
        got, want = torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(want, dtype=torch.float64)
        if got.shape != want.shape:
            print(f"FAIL {what}: shape {tuple(got.shape)} vs {tuple(want.shape)}")
            self.bad += 1
            return
        err = (got - want).abs().max().item()
        scale = want.abs().max().item()
        ok = err <= atol + rtol * scale
        self.n += 1
        self.worst = max(self.worst, (err / (atol + rtol * scale), what))
        if ok and not (loud or self.verbose):
            return
        print(f"{'ok  ' if ok else 'FAIL'} {what}: max |peer - bone| {err:.3g} on values up to {scale:.3g}"
              f" (tolerance {atol + rtol * scale:.3g})")
        self.bad += not ok


def check(a):
    torch.set_default_dtype(torch.float32)
    work = a.work or tempfile.mkdtemp(prefix="rwkv6-peer-check.")
    os.makedirs(work, exist_ok=True)
    bone = a.bone
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    V, C = cfg["vocab_size"], cfg["hidden_size"]
    # 4 sequences of 80 tokens: 3 chunks of 32 (the last one ragged) in both implementations
    rng = np.random.default_rng(7)
    rows = [[int(t) for t in rng.integers(0, V, 80)] for _ in range(4)]
    data = os.path.join(work, "data.jsonl")
    with open(data, "w") as f:
        for r in rows:
            f.write(json.dumps({"input_ids": r}) + "\n")
    ids, tg = batch(rows)
    ck = Checker(a.verbose)

    # 1. the loss of the base model (forward) against `bone score`
    out = run([bone, "score", "--model", a.model, "--data", data, "--format", "tokens", "--batch", "4", "--compute", "fp32", "--json"])
    bone_loss = json.loads(out.strip().splitlines()[-1])["loss"]
    _, model = load(a.model, "none", 0)
    with torch.no_grad():
        peer_loss = model(ids, tg).item()
    ck.close("loss (bone score)", peer_loss, bone_loss, 2e-6, loud=True)
    # the same with 8-token chunks (10 chunks): the chunking is not what makes it agree
    with torch.no_grad():
        ck.close("loss, peer chunk 8 vs bone", model(ids, tg, 8).item(), bone_loss, 2e-6, loud=True)

    # 2. gradients: one AdamW step with lr = eps = G moves every value by −g (relative O(|g|/G))
    G = "1e6"
    step1 = ["--steps", "1", "--batch", "4", "--no-shuffle", "--format", "tokens", "--lr", G, "--adam-eps", G,
             "--max-grad-norm", "0", "--compute", "fp32", "--quiet"]
    base = load_safetensors(os.path.join(a.model, "model.safetensors"))
    for method, k, extra in (("bone-col", cfg["head_size"], ("time", "ln")), ("lora", 4, ())):
        out_dir = os.path.join(work, method)
        flags = ["--block", str(k)] if method == "bone-col" else ["--rank", str(k)]
        if extra:
            flags += ["--train-extra", ",".join(extra)]
        run([bone, "train", "--model", a.model, "--data", data, "--method", method, "--out", out_dir, "--overwrite"]
            + flags + step1)
        met = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl")) if l.strip().startswith("{")]
        met = [m for m in met if "grad_norm" in m][0]
        ad = load_safetensors(os.path.join(out_dir, "adapter", "adapter_model.safetensors"))
        _, model = load(a.model, method, k, extra)
        # bone's lora A (random; unchanged by step 1 because B = 0) into the peer
        for name, mod in model.named_modules():
            if isinstance(mod, Linear) and method == "lora":
                with torch.no_grad():
                    mod.A.copy_(ad[hf_key(name) + ".lora_A.weight"])
        loss = model(ids, tg)
        loss.backward()
        ck.close(f"{method}: training loss (bone train step 1)", loss.item(), met["loss"], 2e-6, loud=True)
        params = [p for p in model.parameters() if p.requires_grad]
        gn = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)).item()
        ck.close(f"{method}: gradient norm over {len(params)} tensors", gn, met["grad_norm"], 1e-4, loud=True)
        for name, mod in model.named_modules():
            if not isinstance(mod, Linear):
                continue
            key = hf_key(name)
            if method == "bone-col":
                got = ad[[n for n in ad if n.startswith(key + ".") and "miss" in n or n.startswith(key + ".bone")][0]]
                ck.close(f"bone-col dL/dD {key.split('model.', 1)[1]}", mod.D.grad.reshape(got.shape), -got, 1e-4)
            else:
                ck.close(f"lora dL/dB {key.split('model.', 1)[1]}", mod.B.grad, -ad[key + ".lora_B.weight"], 1e-4)
        if extra:
            ex = load_safetensors(os.path.join(out_dir, "adapter", "train_extra.safetensors"))
            for name, p in model.named_trainables().items():
                if name not in ex:
                    print(f"FAIL {name}: not in train_extra.safetensors")
                    ck.bad += 1
                    continue
                # fp32 rounding of p − g: an absolute 1.2e-7·|p| on top of the relative part
                ck.close(f"bone-col + time,ln dL/d {name}", p.grad, base[name] - ex[name], 1e-4,
                         2.4e-7 * base[name].abs().max().item())
    if not a.work:
        shutil.rmtree(work)
    print(f"check: {'FAILED' if ck.bad else 'passed'}: {ck.bad} of {ck.n} comparisons out of tolerance; the closest"
          f" to its tolerance: {ck.worst[1]} at {ck.worst[0]:.2f} of it")
    return 1 if ck.bad else 0


def hf_key(module_name):
    """blocks.3.att.key → base_model.model.rwkv.blocks.3.attention.key"""
    _, i, part, lin = module_name.split(".")
    return f"base_model.model.rwkv.blocks.{i}.{'attention' if part == 'att' else 'feed_forward'}.{lin}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data")
    ap.add_argument("--method")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--bone")
    ap.add_argument("--work")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.check:
        if not a.bone:
            ap.error("--check needs --bone")
        sys.exit(check(a))
    if not a.data or not a.method:
        ap.error("--data and --method are required")
    bench(a)


if __name__ == "__main__":
    main()
