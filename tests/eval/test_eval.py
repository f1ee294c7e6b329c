"""test_eval.py — end-to-end check of `bone eval gsm8k` on a tiny random llama2.c model
converted with `bone convert` (vocabulary trained on GSM8K text; no downloads).
Usage: test_eval.py BONE GSM8K_DIR WORKDIR
Checks: exit codes; --limit; the JSONL (valid, one line per example, the exact §7.4 prompt, gold
per §7.2.1); `extracted`/`correct` against an independent Python reading of §7.2/7.3; the
printed accuracy equals the fraction of correct lines; a data set whose golds are the model's own
extracted answers scores exactly the examples with an answer; data errors name file:line."""
import json
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convert"))
import l2c_ref as R  # noqa: E402

BONE, GSM, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def run(args):
    return subprocess.run([BONE] + args, capture_output=True)


# ---- §7 read independently ----
def norm(s):
    s = s.replace(",", "").replace("$", "").strip()
    if s.endswith("."):
        s = s[:-1]
    if s.startswith("+"):
        s = s[1:]
    if re.fullmatch(r"-?\d+\.0+", s):
        s = s.split(".")[0]
    return s


def extract(t):
    if "The answer is: " in t:
        m = re.search(r"[\-+]?\d*[\.,/]?\d+", t.split("The answer is: ")[-1])
        if not m:
            return None
        g = m.group()
        if "/" in g:
            a, b = (float(x.replace(",", "")) for x in g.split("/"))
            v = a if b == 0 else a / b
        else:
            v = float(g.replace(",", ""))
        return str(round(v))
    if "#### " in t:
        m = re.search(r"#### (\-?[0-9\.\,]+)", t)
        s = norm(m.group(1)) if m else ""
        return s if s not in ("", "-") else None
    ms = list(re.finditer(r"-?[0-9][0-9,]*(\.[0-9]+)?", t))
    return norm(ms[-1].group()) if ms else None


def same(p, g):
    if p is None:
        return False
    if re.fullmatch(r"-?\d+", p) and re.fullmatch(r"-?\d+", g):
        return int(p) == int(g)
    try:
        return float(p) == float(g)
    except ValueError:
        return p == g


PROMPT = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
          "request.\n\n### Instruction:\n{}\n\n### Response: Let's think step by step.")

# ---- a tiny model ----
train = [json.loads(l) for l in open(os.path.join(GSM, "train.jsonl"), encoding="utf-8")]
pieces, scores = R.train_bpe([q["question"] + " " + q["answer"] for q in train[:150]], 300)
tokbin = os.path.join(WORK, "tokenizer.bin")
R.write_tokenizer_bin(tokbin, pieces, scores)
rng = np.random.default_rng(5)
w = R.random_weights(rng, 32, 64, 2, 4, 2, len(pieces), True)
binp = os.path.join(WORK, "tiny.bin")
R.write_checkpoint(binp, w, 32, 64, 2, 4, 2, len(pieces), 512)
model = os.path.join(WORK, "tiny")
r = run(["convert", "llama2c", binp, "--tokenizer", tokbin, "--out", model])
if r.returncode:
    print(r.stderr.decode())
    sys.exit(1)

test = os.path.join(GSM, "test.jsonl")
records = [json.loads(l) for l in open(test, encoding="utf-8")][:6]


def check_run(data, recs, limit, out):
    args = ["eval", "gsm8k", "--model", model, "--data", data, "--out", out, "--max-new", "24", "--quiet"]
    if limit:
        args += ["--limit", str(limit)]
    r = run(args)
    if r.returncode != 0:
        fail(f"eval exit {r.returncode}: {r.stderr.decode()}")
        return []
    lines = [json.loads(l) for l in open(out, encoding="utf-8")]
    n = min(limit, len(recs)) if limit else len(recs)
    if len(lines) != n:
        fail(f"{len(lines)} JSONL lines, want {n}")
    ncorrect = 0
    for i, (j, rec) in enumerate(zip(lines, recs)):
        for k in ("index", "line", "prompt", "output", "extracted", "how", "gold", "correct"):
            if k not in j:
                fail(f"line {i}: no field {k}")
        if j["index"] != i or j["prompt"] != PROMPT.format(rec["question"]):
            fail(f"line {i}: index/prompt wrong: {j['prompt']!r}")
        gold = norm(rec["answer"].split("#### ")[-1])
        if j["gold"] != gold:
            fail(f"line {i}: gold {j['gold']!r}, want {gold!r}")
        ex = extract(j["output"])
        if j["extracted"] != ex:
            fail(f"line {i}: extracted {j['extracted']!r}, want {ex!r} from {j['output']!r}")
        if j["correct"] != same(ex, gold):
            fail(f"line {i}: correct {j['correct']}, want {same(ex, gold)}")
        ncorrect += bool(j["correct"])
    m = re.search(rb"gsm8k: (\d+)/(\d+) correct, accuracy ([0-9.]+)", r.stdout)
    if not m:
        fail(f"no accuracy line in {r.stdout!r}")
    elif int(m.group(1)) != ncorrect or int(m.group(2)) != len(lines) or \
            abs(float(m.group(3)) - ncorrect / max(1, len(lines))) > 1e-4:
        fail(f"accuracy line {m.group(0)!r} vs {ncorrect}/{len(lines)} correct lines")
    return lines


lines = check_run(test, records, 4, os.path.join(WORK, "out4.jsonl"))
print("limit 4:", [(j["extracted"], j["gold"], j["correct"]) for j in lines])

# golds set to the model's own answers: exactly the examples with an answer are correct
own = os.path.join(WORK, "own.jsonl")
own_recs = []
with open(own, "w", encoding="utf-8") as f:
    f.write("\n")  # a blank line is skipped
    for j, rec in zip(lines, records):
        g = j["extracted"] if j["extracted"] is not None else "999999"
        own_recs.append({"question": rec["question"], "answer": "steps\n#### " + g})
        f.write(json.dumps(own_recs[-1]) + "\n")
own_lines = check_run(own, own_recs, 0, os.path.join(WORK, "own_out.jsonl"))
want = [j["extracted"] is not None for j in lines]
if [j["correct"] for j in own_lines] != want:
    fail(f"own-answer golds: correct {[j['correct'] for j in own_lines]}, want {want}")
if own_lines and own_lines[0]["line"] != 2:
    fail(f"line numbers: first example reported at line {own_lines[0]['line']}, want 2")
print("own answers:", [j["correct"] for j in own_lines])

# ---- errors ----
bad = os.path.join(WORK, "bad.jsonl")
open(bad, "w").write(json.dumps(records[0]) + "\n" + json.dumps({"question": "q", "answer": "no marker"}) + "\n")
r = run(["eval", "gsm8k", "--model", model, "--data", bad, "--out", os.path.join(WORK, "bad_out.jsonl")])
if r.returncode != 1 or b"bad.jsonl:2" not in r.stderr or os.path.exists(os.path.join(WORK, "bad_out.jsonl")):
    fail(f"data without ####: exit {r.returncode} {r.stderr!r}")
open(bad, "w").write("{\"question\": \"q\"\n")
r = run(["eval", "gsm8k", "--model", model, "--data", bad])
if r.returncode != 1 or b"bad.jsonl:1" not in r.stderr:
    fail(f"bad JSON: exit {r.returncode} {r.stderr!r}")
for args in (["eval"], ["eval", "mmlu", "--model", model, "--data", test], ["eval", "gsm8k", "--model", model],
             ["eval", "gsm8k", "--model", model, "--data", test, "--limit", "0"]):
    r = run(args)
    if r.returncode != 2:
        fail(f"usage {args}: exit {r.returncode}")
r = run(["eval", "--help"])
if r.returncode != 0 or b"example" not in r.stdout:
    fail("eval --help")
print("FAILED" if failures else "ok", len(failures))
sys.exit(1 if failures else 0)
