#!/usr/bin/python3
"""summarize_rwkv6.py — the summary of bench/rwkv6.sh: per method, bone's and the PyTorch
RWKV-6 peer's median step time, tokens/s and peak RSS over rounds, the per-round ratios
(bone / peer of the same round) and their medians against issue 16's targets (tokens/s >= 1.3,
peak RSS <= 0.6), and bone-col / lora on each side. usage: summarize_rwkv6.py WORKDIR ROUNDS"""
import json
import statistics as st
import sys

w, R = sys.argv[1], int(sys.argv[2])
med = st.median
ours = []
for r in range(1, R + 1):
    rows = {}
    for l in open(f"{w}/ours.{r}.txt"):
        if l.startswith('{"summary"'):
            j = json.loads(l)
            rows[j["summary"].split("@")[0]] = j  # "lora:32@fp32" under --compute fp32
    ours.append(rows)
peers = [json.loads(l) for l in open(f"{w}/peer.jsonl") if l.strip()]
peer = [{p["method"]: p for p in peers if p["round"] == r} for r in range(1, R + 1)]
methods = list(ours[0])


def fmt(xs, f="%.2f"):
    return " ".join(f % x for x in xs)


print(f"\n== medians over {R} rounds (peak RSS: the largest of the rounds)")
print(f"{'method':<12} {'side':<6} {'step_ms':>9} {'tokens/s':>9} {'peak_MiB':>9}  loss[0]  chunk_min")
for m in methods:
    o = [x[m] for x in ours]
    p = [x[m] for x in peer if m in x]
    print(f"{m:<12} {'bone':<6} {1e3 * med([x['step_s'] for x in o]):9.1f} {med([x['tokens_per_s'] for x in o]):9.1f} "
          f"{max(x['peak_rss_mib'] for x in o):9.1f}  {o[0]['loss0']:.5f}")
    print(f"{m:<12} {'torch':<6} {1e3 * med([x['step_s'] for x in p]):9.1f} {med([x['tokens_per_s'] for x in p]):9.1f} "
          f"{max(x['peak_rss_mib'] for x in p):9.1f}  {p[0]['losses'][0]:.5f}  {min(x['chunk_min'] for x in p)}")

print("\n== bone / PyTorch of the same round (issue 16 targets: tokens/s >= 1.3, peak RSS <= 0.6)")
print(f"{'method':<12} {'tokens/s: per round':<26} {'median':>7}  {'peak RSS: per round':<26} {'median':>7}")
for m in methods:
    tp = [o[m]["tokens_per_s"] / p[m]["tokens_per_s"] for o, p in zip(ours, peer) if m in p]
    rs = [o[m]["peak_rss_mib"] / p[m]["peak_rss_mib"] for o, p in zip(ours, peer) if m in p]
    print(f"{m:<12} {fmt(tp):<26} {med(tp):7.2f}  {fmt(rs):<26} {med(rs):7.2f}   "
          f"tokens/s {'met' if med(tp) >= 1.3 else 'NOT met'}, RSS {'met' if med(rs) <= 0.6 else 'NOT met'}")

if len(methods) == 2:
    a, b = methods
    for side, rows in (("bone", ours), ("torch", peer)):
        rt = [x[b]["step_s"] / x[a]["step_s"] for x in rows if a in x and b in x]
        print(f"{side}: {b} / {a} step time per round {fmt(rt, '%.3f')}, median {med(rt):.3f}")
