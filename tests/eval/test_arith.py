"""test_arith.py — the arithmetic word problems of `bone eval arith`: every answer recomputed
here from the question text alone (one regular expression per template, the arithmetic done in
Python), the worked answer's "#### N" equal to it, levels as asked, same seed = same file and
another seed = other problems, train and test sharing no question (10,000 train vs 2,000 test),
and the eval mode's --json line agreeing with its --out lines (default model, 6 problems).
Usage: test_arith.py BONE SOURCE_DIR WORKDIR"""
import json
import os
import re
import subprocess
import sys

BONE, SRC, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def bone(*args):
    return subprocess.run([BONE, "eval", "arith"] + list(args), capture_output=True, text=True)


W = r"(\w+)"
N = r"(\d+)"
TEMPLATES = [
    (1, W + " has " + N + r" (\w+)\. \1 gets " + N + r" more\. How many \3 does \1 have now\?", lambda g: int(g[1]) + int(g[3])),
    (1, W + " had " + N + r" (\w+) and gave " + N + r" away\. How many \3 are left\?", lambda g: int(g[1]) - int(g[3])),
    (2, "A box holds " + N + r" (\w+)\. How many \2 are in " + N + r" boxes\?", lambda g: int(g[0]) * int(g[2])),
    (2, W + " shares " + N + r" (\w+) equally among " + N + r" friends\. How many \3 does each friend get\?",
     lambda g: int(g[1]) // int(g[3]) if int(g[1]) % int(g[3]) == 0 else None),
    (3, W + " has " + N + r" (\w+)\. \1 buys " + N + " bags with " + N + r" \3 in each\. How many \3 does \1 have now\?",
     lambda g: int(g[1]) + int(g[3]) * int(g[4])),
    (3, "A pen costs " + N + " dollars. " + W + " buys " + N + " pens and pays with " + N + r" dollars\. How much change "
     r"does \2 get\?", lambda g: int(g[3]) - int(g[0]) * int(g[2])),
    (4, "A farm has " + N + " rows of " + N + " trees. " + N + r" more rows of \2 trees are planted, then " + N +
     r" trees die\. How many trees are there now\?", lambda g: (int(g[0]) + int(g[2])) * int(g[1]) - int(g[3])),
    (4, W + " reads " + N + " pages a day for " + N + " days, then " + N + r" more pages\. \1 does this " + N +
     r" times\. How many pages does \1 read in total\?", lambda g: (int(g[1]) * int(g[2]) + int(g[3])) * int(g[4])),
]


def solve(q):
    for level, pat, f in TEMPLATES:
        m = re.fullmatch(pat, q)
        if m:
            return level, f(m.groups())
    return None, None


def write(path, split, n, seed, level=0):
    p = bone("--write", path, "--split", split, "--n", str(n), "--seed", str(seed), "--level", str(level))
    if p.returncode != 0:
        fail("write %s: %s" % (path, p.stderr))
        return []
    return [json.loads(l) for l in open(path)]


train = write(os.path.join(WORK, "train.jsonl"), "train", 10000, 1)
test = write(os.path.join(WORK, "test.jsonl"), "test", 2000, 1)
for name, rows in (("train", train), ("test", test)):
    levels = set()
    for k, r in enumerate(rows):
        level, want = solve(r["question"])
        if level is None or want is None or want < 0:
            fail("%s row %d: no template fits or the answer is not a whole number: %r" % (name, k, r["question"]))
            continue
        gold = r["answer"].rsplit("#### ", 1)[-1]
        if gold != str(want) or level != r["level"]:
            fail("%s row %d: %r: file says %s (level %s), recomputed %d (level %d)" % (name, k, r["question"], gold,
                                                                                     r["level"], want, level))
        levels.add(level)
    if levels != {1, 2, 3, 4}:
        fail("%s: levels %s" % (name, levels))
tq = set(r["question"] for r in train)
shared = [r["question"] for r in test if r["question"] in tq]
if shared:
    fail("%d test questions are in train, e.g. %r" % (len(shared), shared[0]))
if len(set(r["question"] for r in test)) < 1000:
    fail("too few distinct test questions")
again = write(os.path.join(WORK, "again.jsonl"), "test", 2000, 1)
if again != test:
    fail("same seed, different problems")
other = write(os.path.join(WORK, "other.jsonl"), "test", 2000, 2)
if sum(a == b for a, b in zip(other, test)) > 100:
    fail("another seed gives mostly the same problems")
l3 = write(os.path.join(WORK, "l3.jsonl"), "train", 50, 1, 3)
if any(r["level"] != 3 for r in l3):
    fail("--level 3 gave other levels")
# the eval mode on the default model: --json agrees with --out
out = os.path.join(WORK, "out.jsonl")
p = bone("--model", os.path.join(SRC, "models", "default"), "--n", "6", "--max-new", "24", "--batch", "3", "--out", out,
         "--json", "--quiet")
if p.returncode != 0:
    fail("eval: %s" % p.stderr)
else:
    j = json.loads(p.stdout.strip().split("\n")[-1])
    lines = [json.loads(l) for l in open(out)]
    if j["samples"] != 6 or len(lines) != 6 or j["correct"] != sum(l["correct"] for l in lines):
        fail("eval: %s vs %d lines" % (j, len(lines)))
    gen = [r["question"] for r in write(os.path.join(WORK, "t6.jsonl"), "test", 6, 1)]
    if [l["question"] for l in lines] != gen:
        fail("eval mode does not answer the test split of --seed")
if failures:
    sys.exit(1)
print("OK: %d train, %d test problems recomputed" % (len(train), len(test)))
