"""test_eval_math.py — `bone eval math --samples` against the independent reference
data/math/check_answers.py (last_boxed + is_equiv), on MATH-500 and generated completions: the
worked solutions (all correct), altered boxes, unboxed answers, "The answer is" lines, task_id
as unique_id, as an integer index and as a string of digits; the per-sample JSONL verdicts, the
printed accuracy, the --json line, and errors (unknown task_id, missing completion) naming
file:line. Then one short model run (--model, --limit 3, --batch 2) for the JSONL shape.
Usage: test_eval_math.py BONE SOURCE_DIR WORKDIR"""
import json
import os
import subprocess
import sys

BONE, SRC, WORK = sys.argv[1:4]
sys.path.insert(0, os.path.join(SRC, "data", "math"))
import check_answers as R  # noqa: E402

os.makedirs(WORK, exist_ok=True)
DATA = os.path.join(SRC, "data", "math", "math500_test.jsonl")
rows = [json.loads(l) for l in open(DATA)]
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def ref_extract(text):
    """the model-answer rule: the last box, else after the last 'The answer is' (math_answer.h)"""
    b = R.last_boxed(text)
    if b is not None:
        return b
    k = text.rfind("The answer is")
    if k < 0:
        return None
    rest = text[k + len("The answer is"):]
    if rest.startswith(":"):
        rest = rest[1:]
    rest = rest.split("\n")[0].strip()
    if rest.endswith("."):
        rest = rest[:-1]
    if len(rest) >= 2 and rest[0] == "$" and rest[-1] == "$":
        rest = rest[1:-1]
    rest = rest.strip()
    return rest or None


samples = []
for i, r in enumerate(rows):
    samples.append({"task_id": r["unique_id"], "completion": r["solution"]})
    kind = i % 5
    if kind == 0:
        samples.append({"task_id": i, "completion": "so \\boxed{" + r["answer"] + "1}"})
    elif kind == 1:
        samples.append({"task_id": str(i), "completion": "We get " + r["answer"] + "."})
    elif kind == 2:
        samples.append({"task_id": r["unique_id"], "completion": "work\nThe answer is: $" + r["answer"] + "$.\n"})
    elif kind == 3:
        samples.append({"task_id": r["unique_id"], "completion": "\\boxed {" + r["answer"].replace(" ", "") + "}"})
    else:
        samples.append({"task_id": r["unique_id"], "completion": "\\fbox{" + r["answer"] + "} unbalanced \\boxed{"})
with open(os.path.join(WORK, "samples.jsonl"), "w") as f:
    for s in samples:
        f.write(json.dumps(s) + "\n")

want = []
for s in samples:
    t = s["task_id"]
    i = t if isinstance(t, int) else (int(t) if t.isdigit() else next(k for k, r in enumerate(rows) if r["unique_id"] == t))
    want.append(R.is_equiv(ref_extract(s["completion"]), rows[i]["answer"]))

out = os.path.join(WORK, "out.jsonl")
p = subprocess.run([BONE, "eval", "math", "--data", DATA, "--samples", os.path.join(WORK, "samples.jsonl"), "--out",
                    out, "--json"], capture_output=True, text=True)
if p.returncode != 0:
    fail("exit %d: %s" % (p.returncode, p.stderr))
else:
    got = [json.loads(l)["correct"] for l in open(out)]
    if len(got) != len(samples):
        fail("%d result lines for %d samples" % (len(got), len(samples)))
    bad = [k for k in range(min(len(got), len(want))) if got[k] != want[k]]
    for k in bad[:5]:
        fail("sample %d (%r): bone says %s, check_answers.py says %s" % (k, samples[k]["completion"][-80:], got[k], want[k]))
    last = json.loads(p.stdout.strip().split("\n")[-1])
    if last["samples"] != len(samples) or last["correct"] != sum(want):
        fail("--json line %s, want samples %d correct %d" % (last, len(samples), sum(want)))
    if abs(last["accuracy"] - sum(want) / len(samples)) > 1e-12:
        fail("accuracy %s" % last["accuracy"])
    if sum(want) in (0, len(samples)):
        fail("the samples should mix correct and wrong answers")
    lo, hi = last["ci95"]
    if not (lo <= last["accuracy"] <= hi):
        fail("interval %s does not hold the accuracy" % last["ci95"])
    print("samples: %d, correct %d (check_answers.py agrees on every one)" % (len(samples), sum(want)))

# errors name file:line
for name, line, needle in [("bad1.jsonl", {"task_id": "test/nope.json", "completion": "x"}, "bad1.jsonl:2"),
                           ("bad2.jsonl", {"task_id": 0}, "bad2.jsonl:2"),
                           ("bad3.jsonl", {"task_id": 500, "completion": "x"}, "bad3.jsonl:2")]:
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(json.dumps({"task_id": 0, "completion": "\\boxed{1}"}) + "\n" + json.dumps(line) + "\n")
    p = subprocess.run([BONE, "eval", "math", "--data", DATA, "--samples", path], capture_output=True, text=True)
    if p.returncode != 1 or needle not in p.stderr:
        fail("%s: exit %d, stderr %r (want 1 and %s)" % (name, p.returncode, p.stderr, needle))

# a short model run: the JSONL has the exact prompt and one line per problem
p = subprocess.run([BONE, "eval", "math", "--model", os.path.join(SRC, "models", "default"), "--data", DATA, "--limit",
                    "3", "--max-new", "8", "--batch", "2", "--out", out, "--json", "--quiet"], capture_output=True, text=True)
if p.returncode != 0:
    fail("model run: exit %d %s" % (p.returncode, p.stderr))
else:
    lines = [json.loads(l) for l in open(out)]
    pre = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    if len(lines) != 3 or any(l["prompt"] != pre + "\n\n### Instruction:\n" + rows[k]["problem"] +
                              "\n\n### Response: Let's think step by step." for k, l in enumerate(lines)):
        fail("model run JSONL: %d lines or wrong prompt" % len(lines))
    for l in lines:
        if l["correct"] != R.is_equiv(ref_extract(l["output"]), l["gold"]):
            fail("model run: verdict of %r" % l["output"])
if failures:
    sys.exit(1)
print("OK")
