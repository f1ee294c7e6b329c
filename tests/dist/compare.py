#!/usr/bin/env python3
"""compare.py — one data-parallel run against the single-process run of the same settings.

usage: compare.py REF_RUN DP_RUN RESULT LOSS_RTOL MAX_ATOL [losses-only]
  REF_RUN, DP_RUN: run directories (metrics.jsonl; RESULT = "adapter" or "model" below them)
Checks, exiting 1 on any failure:
  - the same steps, and every step's loss (and eval_loss) within LOSS_RTOL relative error (fp32 sums in a
    different order: the split changes the order of the gradient's fp32 sums, nothing else);
  - every tensor of RESULT/*.safetensors present in both with the same shape;
  - over all elements: max |a - b| <= MAX_ATOL, mean |a - b| <= 1e-6, and at most 1e-3 of
    them differ by more than 1e-5. AdamW normalises each gradient by its own magnitude, so an
    element whose summed gradient is ~0 (a cancellation; e.g. an embedding row) may move by up
    to ~lr per step in either run whatever its tiny rounding difference: MAX_ATOL is given as
    2·lr·steps by the caller, and the mean and the count catch any real difference.
Plain Python + numpy: the single-process run is the reference (itself checked against PyTorch
by tests/train), so no torch is needed here."""
import json, os, struct, sys
import numpy as np

def losses(run):
    out = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            j = json.loads(line)
            out.append((j["step"], j["loss"]))
            if "eval_loss" in j:  # the eval loss of that step, summed over the ranks' shares
                out.append((f"{j['step']} (eval)", j["eval_loss"]))
    return out

def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        raw = data[a:b]
        if v["dtype"] == "F32":
            x = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif v["dtype"] == "BF16":
            x = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise SystemExit(f"{path}: {k}: dtype {v['dtype']} not handled")
        out[k] = x.reshape(v["shape"])
    return out

def main():
    ref, dp, result, rtol, atol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
    bad = 0
    lr_, ld = losses(ref), losses(dp)
    if [s for s, _ in lr_] != [s for s, _ in ld] or not lr_:
        print(f"FAIL steps differ: {[s for s, _ in lr_]} vs {[s for s, _ in ld]}")
        return 1
    worst = 0.0
    for (s, a), (_, b) in zip(lr_, ld):
        r = abs(a - b) / abs(a)
        worst = max(worst, r)
        if not r <= rtol:
            print(f"FAIL step {s}: loss {a!r} vs {b!r} (relative error {r:.3g} > {rtol:g})")
            bad += 1
    print(f"losses: {len(lr_)} (steps and evals), worst relative error {worst:.3g} (limit {rtol:g})")
    if len(sys.argv) > 6 and sys.argv[6] == "losses-only":
        return 1 if bad else 0
    files = sorted(f for f in os.listdir(os.path.join(ref, result)) if f.endswith(".safetensors"))
    if not files:
        print(f"FAIL no safetensors in {ref}/{result}")
        return 1
    n = 0
    tot_n, tot_sum, tot_far, tot_max = 0, 0.0, 0, 0.0
    for fn in files:
        A, B = tensors(os.path.join(ref, result, fn)), tensors(os.path.join(dp, result, fn))
        if sorted(A) != sorted(B):
            print(f"FAIL {fn}: tensor names differ")
            bad += 1
            continue
        wd, wm = 0.0, 0.0
        for k in A:
            if A[k].shape != B[k].shape:
                print(f"FAIL {fn}: {k}: shape {A[k].shape} vs {B[k].shape}")
                bad += 1
                continue
            d = np.abs(A[k] - B[k])
            if not np.all(np.isfinite(d)):
                print(f"FAIL {fn}: {k}: not finite")
                bad += 1
                continue
            wd, wm = max(wd, float(d.max())), max(wm, float(d.mean()))
            tot_n += d.size
            tot_sum += float(d.sum())
            tot_far += int((d > 1e-5).sum())
            tot_max = max(tot_max, float(d.max()))
            n += 1
        print(f"{result}/{fn}: {len(A)} tensors, max |diff| {wd:.3g}, worst mean |diff| {wm:.3g}")
    if n == 0:
        print("FAIL no tensor compared")
        return 1
    mean, frac = tot_sum / tot_n, tot_far / tot_n
    print(f"values: {tot_n} elements, max |diff| {tot_max:.3g} (limit {atol:g}), mean {mean:.3g} (limit 1e-6), "
          f"{tot_far} differ by > 1e-5 ({frac:.2g}, limit 1e-3)")
    if not (tot_max <= atol and mean <= 1e-6 and frac <= 1e-3):
        print("FAIL the final values differ")
        bad += 1
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
