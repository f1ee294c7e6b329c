"""test_inspect.py — `bone inspect` on a model, adapters (bone-col, bone-row, lora), a
safetensors file and data sets; every number is recomputed here from the files themselves
(safetensors headers parsed in Python, token lists counted), not taken from bone.
Usage: test_inspect.py BONE SOURCE_DIR GSM8K_DIR WORKDIR"""
import json
import os
import shutil
import struct
import subprocess
import sys

BONE, SRC, GSM, WORK = sys.argv[1:5]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


def run(args):
    return subprocess.run([BONE] + args, capture_output=True)


def js(args):
    r = run(args + ["--json"])
    if r.returncode:
        fail(f"{args}: exit {r.returncode} {r.stderr.decode()}")
        return {}
    return json.loads(r.stdout)


def st_header(path):
    data = open(path, "rb").read()
    n = struct.unpack_from("<Q", data, 0)[0]
    h = json.loads(data[8:8 + n])
    meta = h.pop("__metadata__", {})
    return h, meta


def numel(shape):
    p = 1
    for d in shape:
        p *= d
    return p


def expect(what, got, want):
    if got != want:
        fail(f"{what}: {got!r}, want {want!r}")


# ---- a model (bf16, untied, GQA) ----
cfg = json.load(open(os.path.join(SRC, "configs", "tiny-llama.json")))
cfg.update(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, max_position_embeddings=64)
cfgp = os.path.join(WORK, "cfg.json")
json.dump(cfg, open(cfgp, "w"))
model = os.path.join(WORK, "model")
r = run(["init", "--config", cfgp, "--out", model, "--seed", "3", "--dtype", "bf16"])
if r.returncode:
    print(r.stderr.decode())
    sys.exit(1)
h, meta = st_header(os.path.join(model, "model.safetensors"))
o = js(["inspect", model])
expect("model kind", o.get("kind"), "model")
expect("architecture", o.get("architecture"), "llama")
expect("tensors", o.get("tensors"), len(h))
expect("parameters", o.get("parameters"), sum(numel(v["shape"]) for v in h.values()))
expect("bytes", o.get("bytes"), sum(v["data_offsets"][1] - v["data_offsets"][0] for v in h.values()))
expect("dtypes", sorted(o.get("dtypes", {})), sorted({v["dtype"] for v in h.values()}))
expect("tied", o.get("tied_embeddings"), cfg["tie_word_embeddings"])
expect("kv heads", o.get("shapes", {}).get("kv_heads"), cfg["num_key_value_heads"])
expect("head_dim", o.get("shapes", {}).get("head_dim"), cfg["hidden_size"] // cfg["num_attention_heads"])
expect("rope", o.get("rope", {}).get("theta"), cfg["rope_theta"])
expect("matches config", o.get("parameters_match_config"), True)
r = run(["inspect", model])
if r.returncode or b"parameters:" not in r.stdout or b"architecture: llama" not in r.stdout:
    fail(f"text output: {r.stdout[:200]!r}")

# ---- a safetensors file ----
o = js(["inspect", os.path.join(model, "model.safetensors")])
expect("st kind", o.get("kind"), "safetensors")
got = {t["name"]: (t["dtype"], t["shape"]) for t in o.get("tensor_list", [])}
expect("tensor list", got, {k: (v["dtype"], v["shape"]) for k, v in h.items()})
expect("metadata", o.get("metadata"), meta)

# ---- adapters ----
data = os.path.join(WORK, "tok.jsonl")
rows = [([5, 6, 7, 8, 9, 10], None), ([1, 2, 3], [-100, -100, 3]), ([4, 4, 4, 4, 4, 4, 4, 4, 4, 4], None),
        ([7, 8], [-100, -100])]
with open(data, "w") as f:
    for ids, lab in rows:
        f.write(json.dumps({"input_ids": ids, **({"labels": lab} if lab else {})}) + "\n")
for method, extra in (("bone-col", ["--block", "8"]), ("bone-row", ["--block", "8"]), ("lora", ["--rank", "4"])):
    out = os.path.join(WORK, "run-" + method)
    r = run(["train", "--model", model, "--data", data, "--method", method, "--out", out, "--steps", "1",
             "--targets", "q_proj,v_proj"] + extra)
    if r.returncode:
        fail(f"train {method}: {r.stderr.decode()}")
        continue
    ad = os.path.join(out, "adapter")
    ah, _ = st_header(os.path.join(ad, "adapter_model.safetensors"))
    acfg = json.load(open(os.path.join(ad, "adapter_config.json")))
    o = js(["inspect", ad])
    expect(f"{method} kind", o.get("kind"), "adapter")
    expect(f"{method} peft_type", o.get("peft_type"), acfg["peft_type"])
    expect(f"{method} trainable", o.get("trainable_parameters"), sum(numel(v["shape"]) for v in ah.values()))
    expect(f"{method} tensors", o.get("tensors"), len(ah))
    expect(f"{method} targets", sorted(o.get("target_modules", [])), ["q_proj", "v_proj"])
    expect(f"{method} linears", o.get("adapted_linears"), 2 * cfg["num_hidden_layers"])
    if method == "lora":
        expect("lora variant", o.get("variant", "").split()[0], "lora")
        expect("lora r", o.get("r"), 4)
        expect("lora loadable", o.get("peft_loadable", "").startswith("yes"), True)
    else:
        expect(f"{method} variant", o.get("variant"), method)
        expect(f"{method} block", o.get("block"), 8)
        expect(f"{method} loadable", o.get("peft_loadable", "").startswith("yes"), method == "bone-col")

# ---- data sets ----
o = js(["inspect", data])
lens = [len(ids) for ids, _ in rows]
labs = [sum(1 for t in range(1, len(ids)) if (lab or ids)[t] != -100) for ids, lab in rows]
expect("examples", o.get("examples"), len(rows))
expect("tokens", o.get("tokens"), {"total": sum(lens), "min": min(lens), "mean": round(sum(lens) / len(lens), 2),
                                   "max": max(lens)})
expect("label tokens", o.get("label_tokens"), {"total": sum(labs), "min": min(labs),
                                               "mean": round(sum(labs) / len(labs), 2), "max": max(labs)})
expect("without labels", o.get("examples_without_labels"), sum(1 for x in labs if x == 0))
expect("max id", o.get("max_token_id"), 10)

# text data through a tokenizer: a converted llama2.c model's (no downloads)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convert"))
import numpy as np  # noqa: E402
import l2c_ref as R  # noqa: E402

train = [json.loads(l) for l in open(os.path.join(GSM, "train.jsonl"), encoding="utf-8")]
pieces, scores = R.train_bpe([q["question"] for q in train[:100]], 200)
R.write_tokenizer_bin(os.path.join(WORK, "tokenizer.bin"), pieces, scores)
w = R.random_weights(np.random.default_rng(1), 16, 32, 1, 2, 2, len(pieces), True)
R.write_checkpoint(os.path.join(WORK, "l2c.bin"), w, 16, 32, 1, 2, 2, len(pieces), 1024)
tokm = os.path.join(WORK, "l2c")
r = run(["convert", "llama2c", os.path.join(WORK, "l2c.bin"), "--out", tokm])
if r.returncode:
    fail("convert: " + r.stderr.decode())
sub = os.path.join(WORK, "gsm.jsonl")
with open(sub, "w", encoding="utf-8") as f:
    for q in train[:20]:
        f.write(json.dumps(q) + "\n")
o = js(["inspect", sub, "--tokenizer", tokm])
expect("gsm examples", o.get("examples"), 20)
t, lt = o.get("tokens", {}), o.get("label_tokens", {})
if not (0 < t.get("min", 0) <= t.get("mean", 0) <= t.get("max", 0) and 0 < lt.get("max", 0) < t.get("max", 0)):
    fail(f"gsm token stats {t} {lt}")
ref = R.RunCTokenizer(*R.read_tokenizer_bin(os.path.join(WORK, "tokenizer.bin"), len(pieces)))
# the longest example is at least as long as its question's tokens alone
if t.get("max", 0) < max(len(ref.encode(q["question"], True, False)) for q in train[:20]):
    fail("gsm max length shorter than a question")

# ---- errors ----
r = run(["inspect", sub])
if r.returncode != 1 or b"tokenizer" not in r.stderr:
    fail(f"text data without --tokenizer: exit {r.returncode} {r.stderr!r}")
r = run(["inspect", os.path.join(WORK, "missing")])
if r.returncode != 1 or b"missing" not in r.stderr:
    fail(f"missing path: exit {r.returncode}")
os.makedirs(os.path.join(WORK, "empty"), exist_ok=True)
r = run(["inspect", os.path.join(WORK, "empty")])
if r.returncode != 1:
    fail(f"empty dir: exit {r.returncode}")
bad = os.path.join(WORK, "bad.safetensors")
open(bad, "wb").write(b"\x10\0\0\0\0\0\0\0{not json}      ")
r = run(["inspect", bad])
if r.returncode != 1 or b"bad.safetensors" not in r.stderr:
    fail(f"bad safetensors: exit {r.returncode} {r.stderr!r}")
for args in (["inspect"], ["inspect", "a", "b"], ["inspect", model, "--bogus"]):
    r = run(args)
    if r.returncode != 2:
        fail(f"usage {args}: exit {r.returncode}")
r = run(["inspect", "--help"])
if r.returncode or b"example" not in r.stdout:
    fail("inspect --help")
print("FAILED" if failures else "ok", len(failures))
sys.exit(1 if failures else 0)
