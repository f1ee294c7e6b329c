#!/usr/bin/env python3
"""check_shards.py — an independent check of a sharded safetensors model directory against
transformers' conventions (FORMATS.md §1.6), with the standard library only:
  check_shards.py SHARDED_DIR SINGLE_DIR MAX_SHARD_BYTES
- the index is exactly json.dumps(index, indent=2, sort_keys=True) + "\\n" with
  metadata.total_size (sum of tensor bytes) and total_parameters, and weight_map naming, for
  every tensor, the shard whose header holds it; shards are model-0000i-of-0000N.safetensors;
- the split is the one huggingface_hub's split_state_dict_into_shards makes from the Llama
  (or RWKV-6, by config.json's model_type) state-dict order (re-implemented here from its documented algorithm, not from bone);
- every tensor (dtype, shape, bytes) equals the same tensor of SINGLE_DIR/model.safetensors,
  and neither side has a tensor the other lacks.
Exits non-zero with a message on the first mismatch."""
import json, os, re, struct, sys

def read_st(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    hdr = json.loads(buf[8:8 + n])
    if n % 8:
        sys.exit(f"{path}: header length {n} is not a multiple of 8")
    if hdr.get("__metadata__") != {"format": "pt"}:
        sys.exit(f"{path}: __metadata__ is {hdr.get('__metadata__')}, expected {{'format': 'pt'}}")
    data = buf[8 + n:]
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b0, b1 = v["data_offsets"]
        out[k] = (v["dtype"], tuple(v["shape"]), data[b0:b1])
    return out

def state_dict_order(names, n_layers):
    """transformers' LlamaForCausalLM.state_dict() order"""
    order = ["model.embed_tokens.weight"]
    for l in range(n_layers):
        p = f"model.layers.{l}."
        for proj in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                     "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
            order += [p + proj + ".weight", p + proj + ".bias"]
        order += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
    order += ["model.norm.weight", "lm_head.weight"]
    return [k for k in order if k in names]

def rwkv6_state_dict_order(names, n_layers):
    """HF's Rwkv6ForCausalLM.state_dict() order: a module's own parameters first, then its
    submodules in the order __init__ registers them (Rwkv6SelfAttention: the time_* parameters,
    receptance, key, value, gate, output, ln_x; Rwkv6FeedForward: time_maa_k/r, key, receptance,
    value; block 0 alone has pre_ln)"""
    order = ["rwkv.embeddings.weight"]
    for l in range(n_layers):
        p = f"rwkv.blocks.{l}."
        if l == 0:
            order += [p + "pre_ln.weight", p + "pre_ln.bias"]
        order += [p + "ln1.weight", p + "ln1.bias", p + "ln2.weight", p + "ln2.bias"]
        order += [p + "attention.time_maa_" + x for x in ("x", "w", "k", "v", "r", "g", "w1", "w2")]
        order += [p + "attention.time_decay", p + "attention.time_decay_w1", p + "attention.time_decay_w2",
                  p + "attention.time_faaaa"]
        order += [p + "attention." + x + ".weight" for x in ("receptance", "key", "value", "gate", "output")]
        order += [p + "attention.ln_x.weight", p + "attention.ln_x.bias"]
        order += [p + "feed_forward.time_maa_k", p + "feed_forward.time_maa_r"]
        order += [p + "feed_forward." + x + ".weight" for x in ("key", "receptance", "value")]
    order += ["rwkv.ln_out.weight", "rwkv.ln_out.bias", "head.weight"]
    return [k for k in order if k in names]

def hf_split(sizes, max_size):
    """huggingface_hub split_state_dict_into_shards_factory: list of shards (lists of names)"""
    shards, cur, cur_size = [], [], 0
    for k, sz in sizes:
        if sz > max_size:
            shards.append([k])
            continue
        if cur_size + sz > max_size:
            shards.append(cur)
            cur, cur_size = [], 0
        cur.append(k)
        cur_size += sz
    if cur:
        shards.append(cur)
    return shards

def main():
    sdir, single_dir, max_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = json.load(open(os.path.join(sdir, "config.json")))
    ref = read_st(os.path.join(single_dir, "model.safetensors"))
    ipath = os.path.join(sdir, "model.safetensors.index.json")
    text = open(ipath).read()
    idx = json.loads(text)
    if text != json.dumps(idx, indent=2, sort_keys=True) + "\n":
        sys.exit(f"{ipath}: not formatted as json.dumps(indent=2, sort_keys=True) + newline")
    if os.path.exists(os.path.join(sdir, "model.safetensors")):
        sys.exit(f"{sdir}: both model.safetensors and an index")
    wm = idx["weight_map"]
    files = sorted(set(wm.values()))
    nsh = len(files)
    for i, f in enumerate(files):
        if f != "model-%05d-of-%05d.safetensors" % (i + 1, nsh):
            sys.exit(f"shard {i + 1}: named {f}")
    on_disk = sorted(f for f in os.listdir(sdir) if re.match(r"model-\d{5}-of-\d{5}\.safetensors$", f))
    if on_disk != files:
        sys.exit(f"shards on disk {on_disk} != named in the index {files}")
    got, where = {}, {}
    for f in files:
        for k, v in read_st(os.path.join(sdir, f)).items():
            if k in got:
                sys.exit(f"{k} in two shards")
            got[k], where[k] = v, f
    if set(got) != set(wm):
        sys.exit(f"index and shards disagree: {sorted(set(got) ^ set(wm))[:5]}")
    for k, f in wm.items():
        if where[k] != f:
            sys.exit(f"{k}: index says {f}, header is in {where[k]}")
    total = sum(len(v[2]) for v in got.values())
    params = sum(len(v[2]) // {"F32": 4, "BF16": 2, "F16": 2}[v[0]] for v in got.values())
    if idx["metadata"] != {"total_size": total, "total_parameters": params}:
        sys.exit(f"metadata {idx['metadata']} != total_size {total}, total_parameters {params}")
    # the split transformers would make
    sdo = rwkv6_state_dict_order if cfg.get("model_type") == "rwkv6" else state_dict_order
    order = sdo(set(got), cfg["num_hidden_layers"])
    if len(order) != len(got):
        sys.exit(f"unexpected tensor names: {sorted(set(got) - set(order))[:5]}")
    want = hf_split([(k, len(got[k][2])) for k in order], max_size)
    want_map = {k: "model-%05d-of-%05d.safetensors" % (i + 1, len(want)) for i, s in enumerate(want) for k in s}
    if want_map != wm:
        bad = [k for k in order if want_map.get(k) != wm.get(k)][:3]
        sys.exit(f"split differs from huggingface_hub's: {[(k, wm.get(k), want_map.get(k)) for k in bad]}")
    # tensor by tensor against the single-file save
    if set(ref) != set(got):
        sys.exit(f"tensor sets differ: {sorted(set(ref) ^ set(got))[:5]}")
    for k in order:
        if ref[k] != got[k]:
            sys.exit(f"{k}: differs from the single-file model (dtype/shape {ref[k][:2]} vs {got[k][:2]})")
    print(f"ok {sdir}: {nsh} shards, {len(got)} tensors, {total} bytes, split as huggingface_hub splits, "
          f"identical to {single_dir}")

main()
