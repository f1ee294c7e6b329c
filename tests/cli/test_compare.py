"""test_compare.py — `bone compare` on a few steps (configs/compare/ci.json: 2 methods x 2 seeds,
3 steps, arith eval of 4 problems): the table rows and compare.json summary equal the mean and
sample std recomputed here from each run's metrics.jsonl / run.json / eval output; every run has
the same per-seed data (the same label-token counts per step across methods, i.e. equal data
order and token budget); loss.svg is well-formed XML with one curve per method; a second run
reuses every finished run without training; a spec whose command changed is refused; a run whose
record says unfinished is trained again (resumed from its checkpoint).
Usage: test_compare.py BONE SOURCE_DIR WORKDIR"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET

BONE, SRC, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


spec = json.load(open(os.path.join(SRC, "configs", "compare", "ci.json")))
spec["model"] = os.path.join(SRC, spec["model"])
spec["data"] = os.path.join(SRC, spec["data"])
sp = os.path.join(WORK, "spec.json")
json.dump(spec, open(sp, "w"))
out = os.path.join(WORK, "cmp")


def run():
    return subprocess.run([BONE, "compare", sp, "--out", out], capture_output=True, text=True, timeout=900)


p = run()
if p.returncode:
    print(p.stdout, p.stderr)
    sys.exit(1)
cj = json.load(open(os.path.join(out, "compare.json")))
md = open(os.path.join(out, "compare.md")).read()
runs = {}
for r in cj["runs"]:
    rows = [json.loads(l) for l in open(os.path.join(r["dir"], "metrics.jsonl"))]
    runj = json.load(open(os.path.join(r["dir"], "run.json")))
    ev = json.loads(open(os.path.join(r["dir"], "compare-eval.out")).read().strip().split("\n")[-1])
    want = {"final_loss": rows[-1]["loss"], "eval_loss": [x["eval_loss"] for x in rows if "eval_loss" in x][-1],
            "trainable_params": runj["trainable_params"], "accuracy": ev["accuracy"], "steps": len(rows)}
    for k, v in want.items():
        if abs(r[k] - v) > 1e-9:
            fail("%s seed %s: %s = %s, metrics say %s" % (r["method"], r["seed"], k, r[k], v))
    runs.setdefault(r["method"], []).append((r, rows))
if set(runs) != {m["name"] for m in spec["methods"]}:
    fail("methods in compare.json: %s" % list(runs))
for s in cj["summary"]:
    rs = runs[s["method"]]
    for k in ("final_loss", "eval_loss", "accuracy", "step_s"):
        vals = [r[k] for r, _ in rs]
        if abs(s[k + "_mean"] - statistics.mean(vals)) > 1e-9 or abs(s[k + "_std"] - statistics.stdev(vals)) > 1e-9:
            fail("%s %s: mean/std %s/%s, recomputed %s/%s" % (s["method"], k, s[k + "_mean"], s[k + "_std"],
                                                           statistics.mean(vals), statistics.stdev(vals)))
    if "| %s | %d |" % (s["method"], s["trainable_params"]) not in md:
        fail("compare.md has no row for %s" % s["method"])
# equal data order and token budget: per seed, the same label tokens at every step for every method
by_seed = {}
for m, rs in runs.items():
    for r, rows in rs:
        by_seed.setdefault(r["seed"], []).append([(x["tokens"], x["label_tokens"]) for x in rows])
for seed, seqs in by_seed.items():
    if any(s != seqs[0] for s in seqs) or all(lt == 0 for _, lt in seqs[0]):
        fail("seed %s: the methods saw different (or no) tokens: %s" % (seed, seqs))
svg = ET.parse(os.path.join(out, "loss.svg")).getroot()
lines = [e for e in svg.iter() if e.tag.endswith("polyline")]
if len(lines) != len(spec["methods"]):
    fail("loss.svg has %d curves" % len(lines))
# reuse
p = run()
if p.returncode or p.stderr.count("reusing the finished run") != 4 or "training" in p.stderr:
    fail("second run did not reuse the 4 runs: %s" % p.stderr)
# an unfinished record is trained again
rec = os.path.join(cj["runs"][0]["dir"], "compare-run.json")
rj = json.load(open(rec))
rj["finished"] = False
json.dump(rj, open(rec, "w"))
p = run()
if p.returncode or "resuming" not in p.stderr:
    fail("an unfinished run was not resumed: %s" % p.stderr)
# a changed command is refused
spec["train"] = spec["train"] + ["--weight-decay", "0.1"]
json.dump(spec, open(sp, "w"))
p = run()
if p.returncode != 1 or "made by another command" not in p.stderr:
    fail("a changed spec was not refused: %d %s" % (p.returncode, p.stderr))
if failures:
    sys.exit(1)
print("OK")
