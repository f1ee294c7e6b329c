#!/usr/bin/python3
"""summarize.py — the summary of bench/bench.sh: medians over rounds, per-round ratios (ours
against the tuned PyTorch peer of the same round, bone-col against lora, bf16 against fp32),
and each of issue 6's targets. usage: summarize.py WORKDIR ROUNDS"""
import json
import os
import statistics as st
import sys

w, R = sys.argv[1], int(sys.argv[2])


def summ(path):
    out = {}
    for l in open(path):
        if l.startswith('{"summary"'):
            j = json.loads(l)
            out[j["summary"]] = j
    for l in open(path):  # per-step losses of the child runs
        if l.startswith('{"method"') and '"losses"' in l:
            j = json.loads(l)
            key = j["method"].replace("/rc", "") + (":%d" % j["k"] if j["k"] else "") + ("/rc" if "/rc" in j["method"] else "")
            if key in out and "losses" not in out[key]:
                out[key]["losses"] = j["losses"]
    return out


f32 = [summ(f"{w}/ours-f32.{r}.txt") for r in range(1, R + 1)]
bf = [summ(f"{w}/ours-bf16.{r}.txt") for r in range(1, R + 1)]
peers = [json.loads(l) for l in open(f"{w}/peer.jsonl")]
tuned = [{p["method"]: p for p in peers if p["tag"] == "tuned" and p["round"] == r} for r in range(1, R + 1)]
inst = {p["method"]: p for p in peers if p["tag"] == "installed"}
med = st.median


def fmt(xs):
    return " ".join("%.2f" % x for x in xs)


print(f"\n== ours, fp32 weights: medians over {R} rounds (peak RSS: the largest)")
print(f"{'method':<14} {'step_ms':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'ceiling%':>9} {'peak_MiB':>9}")
for m in f32[0]:
    rows = [f[m] for f in f32 if m in f]
    print(f"{m:<14} {1e3 * med([x['step_s'] for x in rows]):9.1f} {med([x['tokens_per_s'] for x in rows]):9.0f} "
          f"{med([x['gflops'] for x in rows]):8.1f} {100 * med([x['gflops'] / x['ceiling_gflops'] for x in rows]):8.1f}% "
          f"{max(x['peak_rss_mib'] for x in rows):9.1f}")
print("GEMM ceiling (the full step's dense GEMMs alone), per round: "
      f"{fmt([next(iter(f.values()))['ceiling_gflops'] for f in f32])} GFLOP/s")

print(f"\n== PyTorch peer: tuned (median over {R} rounds), installed (round 1)")
print(f"{'method':<12} {'tag':<10} {'step_ms':>9} {'tokens/s':>9} {'peak_MiB':>9}  loss[0]")
for m in tuned[0]:
    rows = [t[m] for t in tuned if m in t]
    print(f"{m:<12} {'tuned':<10} {1e3 * med([x['step_s'] for x in rows]):9.1f} {med([x['tokens_per_s'] for x in rows]):9.0f} "
          f"{max(x['peak_rss_mib'] for x in rows):9.1f}  {rows[0]['losses'][0]:.4f}")
    if m in inst:
        i = inst[m]
        print(f"{m:<12} {'installed':<10} {1e3 * i['step_s']:9.1f} {i['tokens_per_s']:9.0f} {i['peak_rss_mib']:9.1f}  {i['losses'][0]:.4f}")

print("\n== ours / tuned PyTorch of the same round (targets: tokens/s >= 1.3, peak RSS <= 0.6)")
print(f"{'method':<14} {'tokens/s':>9} {'per round':>22} {'peak_rss':>9} {'vs installed':>13}")
for base in tuned[0]:
    for m in (base, base + "/rc"):
        if m not in f32[0]:
            continue
        rs = [f[m]["tokens_per_s"] / t[base]["tokens_per_s"] for f, t in zip(f32, tuned) if m in f and base in t]
        rss = max(f[m]["peak_rss_mib"] for f in f32) / max(t[base]["peak_rss_mib"] for t in tuned)
        vi = f"{f32[0][m]['tokens_per_s'] / inst[base]['tokens_per_s']:13.2f}" if base in inst and m == base else f"{'-':>13}"
        print(f"{m:<14} {med(rs):9.2f} {fmt(rs):>22} {rss:9.2f} {vi}")

print("\n== targets inside bone (per-round ratios and their median)")
if "lora:8" in f32[0] and "bone-col:16" in f32[0]:
    t = [f["bone-col:16"]["step_s"] / f["lora:8"]["step_s"] for f in f32]
    m = [f["bone-col:16"]["peak_rss_mib"] / f["lora:8"]["peak_rss_mib"] for f in f32]
    tt = [t_["bone-col:16"]["step_s"] / t_["lora:8"]["step_s"] for t_ in tuned]
    print(f"bone-col/lora step time {med(t):.3f} ({fmt(t)}; target <= 1.35), peak RSS {med(m):.3f} (target <= 1.05); "
          f"tuned PyTorch's own: {med(tt):.3f}")
if "full" in f32[0]:
    c = [100 * f["full"]["gflops"] / f["full"]["ceiling_gflops"] for f in f32]
    print(f"full fp32: {med(c):.1f}% of the GEMM ceiling measured in the same run ({fmt(c)}; target >= 75%)")
fs = os.path.getsize(f"{w}/f32/model.safetensors")
bs = os.path.getsize(f"{w}/bf16/model.safetensors")
for m in bf[0]:
    if m in f32[0]:
        sp = [b[m]["tokens_per_s"] / a[m]["tokens_per_s"] for a, b in zip(f32, bf)]
        a, b = f32[0][m], bf[0][m]
        rel = max(abs(x - y) / abs(y) for x, y in zip(b.get("losses", [b["loss0"]]), a.get("losses", [a["loss0"]])))
        print(f"bf16/fp32 {m}: tokens/s {med(sp):.3f} ({fmt(sp)}; target >= 0.95), peak RSS {b['peak_rss_mib'] / a['peak_rss_mib']:.3f}, "
              f"max rel loss diff over the {len(b.get('losses', [0]))} steps {rel:.2e} (target < 1e-2)")
for m in ("lora:8", "bone-col:16", "full"):
    if m in f32[0] and m + "/rc" in f32[0]:
        t = [f[m + "/rc"]["step_s"] / f[m]["step_s"] for f in f32]
        a, b = f32[0][m], f32[0][m + "/rc"]
        print(f"--recompute {m}: step time x{med(t):.3f}, peak RSS x{b['peak_rss_mib'] / a['peak_rss_mib']:.3f} "
              f"({a['peak_rss_mib']:.0f} -> {b['peak_rss_mib']:.0f} MiB)")
print(f"weight file bf16/fp32: {bs / fs:.3f} ({bs / 2**20:.0f} / {fs / 2**20:.0f} MiB)")
