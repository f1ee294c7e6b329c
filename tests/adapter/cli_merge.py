"""cli_merge.py BONE — `bone merge` / `bone unmerge` end to end through the CLI: a tiny
model from `bone init`, a bone-col adapter in PEFT's MISS layout written here (stdlib only),
merge → unmerge gives the base back (fp32), tokenizer files are copied, and a singular
(I + D) is refused with exit status 1."""
import json, os, random, struct, subprocess, sys, tempfile

BONE = sys.argv[1]


def st_read(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    hdr = json.loads(buf[8:8 + n])
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        raw = buf[8 + n + a:8 + n + b]
        if v["dtype"] == "F32":
            vals = struct.unpack("<%df" % (len(raw) // 4), raw)
        elif v["dtype"] == "BF16":
            vals = [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
        else:
            raise SystemExit("unexpected dtype " + v["dtype"])
        out[k] = (v["dtype"], v["shape"], vals)
    return out


def st_write(path, tensors):  # name -> (shape, list of floats), F32
    names = sorted(tensors)
    hdr, off, data = {"__metadata__": {"format": "pt"}}, 0, b""
    for k in names:
        shape, vals = tensors[k]
        raw = struct.pack("<%df" % len(vals), *vals)
        hdr[k] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def run(*args, ok=True):
    p = subprocess.run([BONE, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit("FAIL: bone %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return p


fail = 0
with tempfile.TemporaryDirectory() as d:
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 40, "hidden_size": 32,
           "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "hidden_act": "silu", "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "initializer_range": 0.2,
           "tie_word_embeddings": False}
    with open(os.path.join(d, "tiny.json"), "w") as f:
        json.dump(cfg, f)
    base = os.path.join(d, "base")
    run("init", "--config", os.path.join(d, "tiny.json"), "--out", base, "--seed", "3")
    with open(os.path.join(base, "tokenizer_config.json"), "w") as f:
        f.write('{"model_max_length": 64}')
    W = st_read(os.path.join(base, "model.safetensors"))
    b, rnd = 8, random.Random(1)
    tensors = {}
    for name, (_, shape, _) in W.items():
        if name.endswith("_proj.weight"):
            O = shape[0]
            tensors["base_model.model." + name[:-len(".weight")] + ".miss_block"] = (
                [O // b, b, b], [rnd.uniform(-0.05, 0.05) for _ in range(O * b)])
    ad = os.path.join(d, "adapter")
    os.makedirs(ad)
    st_write(os.path.join(ad, "adapter_model.safetensors"), tensors)
    with open(os.path.join(ad, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "MISS", "r": b, "init_weights": "bat", "target_modules": ["q_proj", "k_proj", "v_proj",
                   "o_proj", "gate_proj", "up_proj", "down_proj"], "task_type": "CAUSAL_LM"}, f, indent=2, sort_keys=True)
    merged, back = os.path.join(d, "merged"), os.path.join(d, "back")
    p = run("merge", "--model", base, "--adapter", ad, "--out", merged)
    print(p.stdout.strip())
    if not os.path.exists(os.path.join(merged, "tokenizer_config.json")) or not os.path.exists(os.path.join(merged, "config.json")):
        print("FAIL: merged directory incomplete"); fail = 1
    M = st_read(os.path.join(merged, "model.safetensors"))
    if set(M) != set(W):
        print("FAIL: merged tensor names differ"); fail = 1
    dmerge = max(abs(a - c) for k in W if k.endswith("q_proj.weight") for a, c in zip(W[k][2], M[k][2]))
    if dmerge < 1e-4:
        print("FAIL: merge did not change q_proj"); fail = 1
    p = run("unmerge", "--model", merged, "--adapter", ad, "--out", back)
    print(p.stdout.strip())
    B = st_read(os.path.join(back, "model.safetensors"))
    err = max(abs(a - c) for k in W for a, c in zip(W[k][2], B[k][2]))
    print("unmerge(merge(W)) max |W - W0| = %.2e (merge changed q_proj by up to %.2e)" % (err, dmerge))
    if err > 1e-5:
        print("FAIL: unmerge did not recover the base"); fail = 1
    # (I + D[0]) singular for one layer: D[0] = -I
    k0 = sorted(tensors)[0]
    shape, vals = tensors[k0]
    vals = list(vals)
    for i in range(b * b):
        vals[i] = -1.0 if i // b == i % b else 0.0
    tensors[k0] = (shape, vals)
    st_write(os.path.join(ad, "adapter_model.safetensors"), tensors)
    p = run("unmerge", "--model", merged, "--adapter", ad, "--out", os.path.join(d, "bad"), ok=False)
    print(p.stderr.strip())
    if p.returncode != 1 or "singular" not in p.stderr:
        print("FAIL: singular unmerge should exit 1 with a message"); fail = 1
    if run("merge", "--model", base, ok=False).returncode != 2:
        print("FAIL: missing options should be a usage error"); fail = 1
sys.exit(fail)
