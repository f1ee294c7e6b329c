#!/usr/bin/python3
"""rwkv6_ops_ref.py — float64 PyTorch oracle for the RWKV-6 ops of src/ops/rwkv6_ops.h.

Written from docs FORMATS.md §6 (not from the C code): each op is the textbook formula in
float64, gradients come from autograd. For every case it writes the random inputs, a random
upstream gradient and the expected outputs and input/parameter gradients (all F32) to
OUT/rwkv6_ops.safetensors; tests/ops/test_rwkv6_ops.c runs the C ops on the same inputs.

    /usr/bin/python3 tests/ops/rwkv6_ops_ref.py --out DIR     (~1 s, deterministic)

WKV6 is the plain per-step recurrence (state S[key i][value j], decay on the key index);
the chunked C form is checked against this same sequential definition.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from make_fixtures import save_safetensors  # noqa: E402  (the project's safetensors writer)

torch.set_num_threads(1)
F64 = torch.float64


def rnd(g, *shape, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=F64) * scale).requires_grad_(True)


def finish(out, name, inputs, outputs, upstream):
    """inputs: dict of leaf tensors; outputs: dict name -> tensor; upstream: dict output -> grad.
    Writes name/in.X, name/dy.Y, name/out.Y and name/grad.X for every input."""
    loss = sum((outputs[k] * upstream[k]).sum() for k in upstream)
    grads = torch.autograd.grad(loss, list(inputs.values()), allow_unused=True)
    for k, v in inputs.items():
        out[f"{name}/in.{k}"] = v.detach()
    for k, v in upstream.items():
        out[f"{name}/dy.{k}"] = v
    for k, v in outputs.items():
        out[f"{name}/out.{k}"] = v.detach()
    for (k, v), gr in zip(inputs.items(), grads):
        out[f"{name}/grad.{k}"] = gr if gr is not None else torch.zeros_like(v)


def layernorm(x, w, b, eps):
    m = x.mean(-1, keepdim=True)
    var = ((x - m) ** 2).mean(-1, keepdim=True)  # biased
    return (x - m) / torch.sqrt(var + eps) * w + b


def case_layernorm(out, g):
    N, C = 6, 24
    x, w, b = rnd(g, N, C), rnd(g, C), rnd(g, C)
    with torch.no_grad():
        x += 0.5  # a non-zero mean
    y = layernorm(x, w, b, 1e-5)
    finish(out, "layernorm", {"x": x, "w": w, "b": b}, {"y": y}, {"y": torch.randn(N, C, generator=g, dtype=F64)})


def case_groupnorm(out, g, hs):
    N, H = 5, 4
    C = H * hs
    x, w, b = rnd(g, N, C, scale=2.0), rnd(g, C), rnd(g, C)
    eps = 1e-5 * 8 ** 2
    xg = x.view(N, H, hs)
    m = xg.mean(-1, keepdim=True)
    var = ((xg - m) ** 2).mean(-1, keepdim=True)
    y = ((xg - m) / torch.sqrt(var + eps)).reshape(N, C) * w + b
    finish(out, f"groupnorm{hs}", {"x": x, "w": w, "b": b}, {"y": y},
           {"y": torch.randn(N, C, generator=g, dtype=F64)})


def case_tokenshift(out, g, with_prev):
    B, T, C = 2, 5, 8
    x = rnd(g, B, T, C)
    prev = rnd(g, B, C) if with_prev else torch.zeros(B, C, dtype=F64, requires_grad=True)
    shifted = torch.cat([prev[:, None, :], x[:, :-1, :]], dim=1)
    d = shifted - x
    name = "tokenshift_prev" if with_prev else "tokenshift"
    finish(out, name, {"x": x, "prev": prev}, {"delta": d}, {"delta": torch.randn(B, T, C, generator=g, dtype=F64)})


def case_lerp(out, g):
    N, C = 6, 16
    x, d, maa = rnd(g, N, C), rnd(g, N, C), rnd(g, C)
    finish(out, "lerp", {"x": x, "delta": d, "maa": maa}, {"y": x + d * maa},
           {"y": torch.randn(N, C, generator=g, dtype=F64)})


def case_ddlerp(out, g):
    N, C, D = 7, 16, 4
    x, d = rnd(g, N, C), rnd(g, N, C)
    maa_x = rnd(g, C, scale=0.5)
    maa = {n: rnd(g, C, scale=0.5) for n in "wkvrg"}
    W1 = rnd(g, C, 5 * D, scale=0.5)   # stored [in, out], used as x @ W1
    W2 = rnd(g, 5, D, C, scale=0.5)
    xxx = x + d * maa_x
    z = torch.tanh(xxx @ W1)
    outs = {}
    for j, n in enumerate("wkvrg"):  # the order of FORMATS.md §6.3: w, k, v, r, g
        m = z[:, j * D:(j + 1) * D] @ W2[j]
        outs["x" + n] = x + d * (maa[n] + m)
    ins = {"x": x, "delta": d, "maa_x": maa_x, "W1": W1, "W2": W2}
    ins.update({"maa_" + n: maa[n] for n in "wkvrg"})
    finish(out, "ddlerp", ins, outs, {k: torch.randn(N, C, generator=g, dtype=F64) for k in outs})


def case_decay(out, g):
    N, C, D = 7, 16, 4
    xw = rnd(g, N, C)
    td = (torch.rand(C, generator=g, dtype=F64) * 4 - 3).requires_grad_(True)
    Wd1 = rnd(g, C, D, scale=0.5)
    Wd2 = rnd(g, D, C, scale=0.5)
    logw = -torch.exp(td + torch.tanh(xw @ Wd1) @ Wd2)
    finish(out, "decay", {"xw": xw, "time_decay": td, "Wd1": Wd1, "Wd2": Wd2}, {"logw": logw},
           {"logw": torch.randn(N, C, generator=g, dtype=F64)})


def case_elementwise(out, g):
    n = 40
    x = rnd(g, n)
    finish(out, "relu2", {"x": x}, {"y": torch.relu(x) ** 2}, {"y": torch.randn(n, generator=g, dtype=F64)})
    a, b = rnd(g, n, scale=2.0), rnd(g, n)
    finish(out, "sigmoid_mul", {"a": a, "b": b}, {"y": torch.sigmoid(a) * b},
           {"y": torch.randn(n, generator=g, dtype=F64)})
    a, b = rnd(g, n, scale=2.0), rnd(g, n)
    finish(out, "silu_mul", {"a": a, "b": b}, {"y": a * torch.sigmoid(a) * b},
           {"y": torch.randn(n, generator=g, dtype=F64)})


def wkv6(r, k, v, logw, u, s0, hs):
    """Sequential WKV6 (FORMATS.md §6.3 step 4): per head, S[i][j] with i the key index."""
    B, T, C = r.shape
    H = C // hs
    rr, kk, vv = (a.view(B, T, H, hs) for a in (r, k, v))
    w = torch.exp(logw).view(B, T, H, hs)
    uu = u.view(H, hs)
    S = s0
    ys = []
    for t in range(T):
        kv = kk[:, t, :, :, None] * vv[:, t, :, None, :]                 # (B,H,i,j)
        y = (rr[:, t, :, :, None] * (uu[None, :, :, None] * kv + S)).sum(2)  # Σ_i
        ys.append(y.reshape(B, C))
        S = w[:, t, :, :, None] * S + kv
    return torch.stack(ys, 1), S


def case_wkv6(out, g, name, B, T, H, hs, with_s0, with_dsT, strong=False):
    C = H * hs
    r, k, v = rnd(g, B, T, C), rnd(g, B, T, C), rnd(g, B, T, C)
    # logw = −exp(w_raw), w_raw in [−3, 1): decays from ~0.95 to ~0.07 per step
    wraw = torch.rand(B, T, C, generator=g, dtype=F64) * 4 - 3
    if strong:  # a few channels with decays down to e^-40 per step (cuts the chunks)
        wraw[:, :, : hs // 2] += 2.7
    logw = (-torch.exp(wraw)).requires_grad_(True)
    u = rnd(g, C, scale=0.5)
    s0 = rnd(g, B, H, hs, hs) if with_s0 else torch.zeros(B, H, hs, hs, dtype=F64, requires_grad=True)
    y, sT = wkv6(r, k, v, logw, u, s0, hs)
    up = {"y": torch.randn(B, T, C, generator=g, dtype=F64)}
    outs = {"y": y, "sT": sT}
    if with_dsT:
        up["sT"] = torch.randn(B, H, hs, hs, generator=g, dtype=F64)
    finish(out, name, {"r": r, "k": k, "v": v, "logw": logw, "u": u, "s0": s0}, outs, up)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=6)
    a = ap.parse_args()
    g = torch.Generator().manual_seed(a.seed)
    out = {}
    case_layernorm(out, g)
    case_groupnorm(out, g, 8)
    case_groupnorm(out, g, 16)
    case_tokenshift(out, g, True)
    case_tokenshift(out, g, False)
    case_lerp(out, g)
    case_ddlerp(out, g)
    case_decay(out, g)
    case_elementwise(out, g)
    # WKV6: head sizes 8 and 16, with/without initial state and final-state gradient,
    # T values that most chunk lengths do not divide, and one case with very strong decay
    case_wkv6(out, g, "wkv_hs8", 2, 13, 2, 8, True, True)
    case_wkv6(out, g, "wkv_hs16", 2, 11, 2, 16, False, False)
    case_wkv6(out, g, "wkv_hs16_s0", 1, 17, 3, 16, True, False)
    case_wkv6(out, g, "wkv_hs8_strong", 2, 20, 2, 8, True, True, strong=True)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "rwkv6_ops.safetensors")
    tmp = path + ".tmp"
    save_safetensors(tmp, out)
    os.replace(tmp, path)
    print(f"wrote {len(out)} tensors to {path}")


if __name__ == "__main__":
    main()
