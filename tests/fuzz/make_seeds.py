#!/usr/bin/env python3
"""make_seeds.py — writes the small seed corpora of the fuzz targets into tests/fuzz/corpus/<name>/
(committed; rerun only to regenerate them). Standard library only."""
import json, os, struct, sys

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, meta=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes)"""
    hdr, off, blob = {}, 0, b""
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape, raw in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blob += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)


# ---- safetensors
put("safetensors", "two_tensors", safetensors(
    [("a", "F32", [2, 2], f32([1, 2, 3, 4])), ("b", "BF16", [3], b"\x80\x3f" * 3)], {"format": "pt"}))
put("safetensors", "int_scalar", safetensors([("step", "I64", [], struct.pack("<q", 7)), ("h", "F16", [1, 2], b"\x00\x3c" * 2)]))
put("safetensors", "empty", safetensors([]))
put("safetensors", "unpadded", safetensors([("x", "F32", [1], f32([0.5])), ("y", "U8", [0], b"")], pad=False))

# ---- config.json
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512, "hidden_size": 128,
       "intermediate_size": 352, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
       "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
       "rope_scaling": None, "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False,
       "bos_token_id": 1, "eos_token_id": 2, "initializer_range": 0.02}
put("config", "tiny_llama.json", json.dumps(cfg, indent=2))
l3 = dict(cfg, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 8192}, eos_token_id=[2, 3], torch_dtype="bfloat16")
put("config", "llama3_rope.json", json.dumps(l3))
qw = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 1000, "hidden_size": 64,
      "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
      "use_sliding_window": False, "sliding_window": 4096, "tie_word_embeddings": True,
      "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}, "dtype": "float16"}
put("config", "qwen2_v5.json", json.dumps(qw))
ms = {"model_type": "mistral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
      "num_attention_heads": 2, "head_dim": 8, "sliding_window": None, "rope_scaling": {"type": "linear", "factor": 2.0}}
put("config", "mistral_linear.json", json.dumps(ms))
rw = {"architectures": ["Rwkv6ForCausalLM"], "model_type": "rwkv6", "vocab_size": 65536, "hidden_size": 2048,
      "attention_hidden_size": 2048, "head_size": 64, "head_size_divisor": 8, "intermediate_size": None,
      "num_hidden_layers": 24, "layer_norm_epsilon": 1e-5, "num_attention_heads": 64, "tie_word_embeddings": False,
      "bos_token_id": 0, "eos_token_id": 0}
put("config", "rwkv6_1b6.json", json.dumps(rw))

# ---- tokenizer.json NUL tokenizer_config.json NUL text
def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}

b2u = bytes_to_unicode()
bl_vocab = {b2u[b]: b for b in range(256)}
for i, w in enumerate(["\u0120t", "he", "\u0120the", "ll", "<|endoftext|>"]):
    bl_vocab[w] = 256 + i
bytelevel = {"version": "1.0", "truncation": None, "padding": None,
             "added_tokens": [{"id": 260, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                               "rstrip": False, "normalized": False, "special": True}],
             "normalizer": {"type": "NFC"},
             "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
             "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
             "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
             "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                       "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                       "vocab": bl_vocab, "merges": [["\u0120", "t"], ["h", "e"], ["\u0120t", "he"], ["l", "l"]]}}
put("tokenizer", "bytelevel", json.dumps(bytelevel).encode() + b"\0" +
    json.dumps({"eos_token": "<|endoftext|>", "chat_template": "<|im_start|>"}).encode() + b"\0" +
    "Hello the world<|endoftext|> caf\u00e9 \U0001F600 12345 it's".encode())

sp_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256):
    sp_vocab["<0x%02X>" % b] = 3 + b
for i, w in enumerate(["\u2581", "\u2581t", "h", "e", "he", "t", "\u2581the"]):
    sp_vocab[w] = 259 + i
spm = {"version": "1.0",
       "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                         "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
       "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                          {"type": "Replace", "pattern": {"String": " "},
                                                           "content": "\u2581"}]},
       "pre_tokenizer": None,
       "post_processor": {"type": "TemplateProcessing",
                          "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                          "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
       "decoder": {"type": "Sequence", "decoders": [
           {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
           {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
       "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True,
                 "vocab": sp_vocab, "merges": ["\u2581 t", "h e", "\u2581t he"]}}
put("tokenizer", "sentencepiece", json.dumps(spm).encode() + b"\0" +
    json.dumps({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": True,
                "bos_token": {"content": "<s>"}, "eos_token": "</s>", "pad_token": None,
                "chat_template": "[INST] <<SYS>>"}).encode() + b"\0" + "the  thé\u2581<s> x\n".encode())
split = dict(spm, normalizer=None, pre_tokenizer={"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t)|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"},
     "behavior": "Isolated", "invert": False},
    {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}]},
    decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"})
put("tokenizer", "split_metaspace", json.dumps(split).encode() + b"\0\0" + b"It's 2024!! ok  ")

# ---- llama2.c tokenizer.bin: first byte = vocab-size selector (0: to the end of the file)
def l2c(pieces):
    out = struct.pack("<i", max(len(p) for _, p in pieces))
    for s, p in pieces:
        out += struct.pack("<fi", s, len(p)) + p
    return out

pieces = [(0.0, b"<unk>"), (0.0, b"\n<s>\n"), (0.0, b"\n</s>\n")] + [(0.0, b"<0x%02X>" % b) for b in range(256)]
pieces += [(-1.0, " t".encode()), (-2.0, b"he"), (-3.0, b" the"), (-1.5, b"h"), (-1.5, b"e"), (-4.0, b" ")]
put("llama2c_tokenizer", "all", b"\0" + l2c(pieces))
put("llama2c_tokenizer", "first_261", b"\x05" + l2c(pieces))

# ---- model: config.json NUL model.safetensors (a tiny Llama; tied and untied, f32 and bf16)
def tiny_model(tied, dt, bias):
    V, H, I, L, nh, nkv, hd = 8, 4, 8, 1, 2, 1, 2
    c = {"model_type": "llama", "vocab_size": V, "hidden_size": H, "intermediate_size": I, "num_hidden_layers": L,
         "num_attention_heads": nh, "num_key_value_heads": nkv, "tie_word_embeddings": tied, "attention_bias": bias}
    sz = 4 if dt == "F32" else 2
    def t(name, *shape):
        n = 1
        for d in shape: n *= d
        return (name, dt, list(shape), bytes((i * 37) % 251 for i in range(n * sz)))
    ts = [t("model.embed_tokens.weight", V, H), t("model.norm.weight", H)]
    if not tied:
        ts.append(t("lm_head.weight", V, H))
    for l in range(L):
        p = "model.layers.%d." % l
        ts += [t(p + "input_layernorm.weight", H), t(p + "post_attention_layernorm.weight", H),
               t(p + "self_attn.q_proj.weight", nh * hd, H), t(p + "self_attn.k_proj.weight", nkv * hd, H),
               t(p + "self_attn.v_proj.weight", nkv * hd, H), t(p + "self_attn.o_proj.weight", H, nh * hd),
               t(p + "mlp.gate_proj.weight", I, H), t(p + "mlp.up_proj.weight", I, H), t(p + "mlp.down_proj.weight", H, I)]
        if bias:
            ts += [t(p + "self_attn.%s_proj.bias" % x, n) for x, n in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd), ("o", H))]
    return json.dumps(c).encode() + b"\0" + safetensors(ts, {"format": "pt"})

put("model", "untied_f32", tiny_model(False, "F32", False))
put("model", "tied_bf16_bias", tiny_model(True, "BF16", True))


def tiny_rwkv6(dt):
    """an RWKV-6 in the HF layout (FORMATS.md §6.7): C 8, 2 heads of 4, F 16, D_MIX 1, D_DECAY 2"""
    V, C, F, hs, Dm, Dd = 8, 8, 16, 4, 1, 2
    c = {"model_type": "rwkv6", "vocab_size": V, "hidden_size": C, "head_size": hs, "intermediate_size": F,
         "num_hidden_layers": 1}
    sz = 4 if dt == "F32" else 2
    def t(name, *shape, d=dt):
        n = 1
        for x in shape: n *= x
        return (name, d, list(shape), bytes((i * 37) % 251 for i in range(n * (4 if d == "F32" else sz))))
    p = "rwkv.blocks.0."
    ts = [t("rwkv.embeddings.weight", V, C), t("head.weight", V, C), t(p + "pre_ln.weight", C), t(p + "pre_ln.bias", C),
          t("rwkv.ln_out.weight", C), t("rwkv.ln_out.bias", C)]
    for n in ("ln1", "ln2", "attention.ln_x"):
        ts += [t(p + n + ".weight", C), t(p + n + ".bias", C)]
    ts += [t(p + "attention.time_maa_" + x, 1, 1, C) for x in "xwkvrg"]
    ts += [t(p + "attention.time_maa_w1", C, 5 * Dm), t(p + "attention.time_maa_w2", 5, Dm, C),
           t(p + "attention.time_decay", 1, 1, C, d="F32"), t(p + "attention.time_decay_w1", C, Dd),
           t(p + "attention.time_decay_w2", Dd, C), t(p + "attention.time_faaaa", C // hs, hs),
           t(p + "feed_forward.time_maa_k", 1, 1, C), t(p + "feed_forward.time_maa_r", C)]
    ts += [t(p + "attention." + x + ".weight", C, C) for x in ("receptance", "key", "value", "gate", "output")]
    ts += [t(p + "feed_forward.key.weight", F, C), t(p + "feed_forward.receptance.weight", C, C),
           t(p + "feed_forward.value.weight", C, F)]
    return json.dumps(c).encode() + b"\0" + safetensors(ts, {"format": "pt"})


put("model", "rwkv6_bf16", tiny_rwkv6("BF16"))

# ---- llama2.c checkpoints: legacy (unshared classifier) and version 1 (shared)
def l2c_model(version, D, F, L, H, KV, V, S, shared):
    hd = H and D // H
    kvd = KV * hd
    n = V * D + L * D * 2 + L * D * D * 2 + L * kvd * D * 2 + L * F * D * 3 + D + (0 if shared else V * D)
    if version == 0:
        n += S * (hd // 2) * 2
        hdr = struct.pack("<7i", D, F, L, H, KV, V if shared else -V, S)
    else:
        hdr = struct.pack("<Ii7iB", 0x616B3432, 1, D, F, L, H, KV, V, S, 1 if shared else 0)
        hdr += b"\0" * (256 - len(hdr))
    return hdr + f32([((i * 7) % 13 - 6) / 10.0 for i in range(n)])

put("llama2c_model", "legacy_unshared", l2c_model(0, 8, 16, 1, 2, 1, 5, 4, False))
put("llama2c_model", "v1_shared", l2c_model(1, 8, 12, 2, 2, 2, 6, 3, True))
put("llama2c_model", "v2_refused", struct.pack("<Ii7iB", 0x616B3432, 2, 8, 16, 1, 2, 1, 5, 4, 1) + b"\0" * 219)

# ---- data: 3 option bytes, the data file, NUL, a template file
def data(fmt, tmpl, bits, text, template=None):
    b = bytes([fmt, tmpl, bits]) + text.encode()
    return b + (b"\0" + template.encode() if template is not None else b"")

put("data", "tokens", data(1, 0, 0, '{"input_ids":[1,5,6,7],"labels":[-100,5,6,7]}\n\n{"input_ids":[3,4]}\n'))
put("data", "tokens_auto_maxlen", data(0, 0, 1 | 8, '{"input_ids":[1,2,3,4,5,6,7,8,9,10],"labels":null}\n'))
put("data", "gsm8k", data(2, 0, 0, '{"question":"What is 2+2?","answer":"2+2=<<2+2=4>>4\\n#### 4"}\n'))
put("data", "metamath_raw", data(0, 6, 4, '{"query":"q","response":"r","type":"x"}\n'))
put("data", "alpaca_array", data(4, 1, 2, '[{"instruction":"Say hi","input":"to Bob","output":"hi Bob"},'
                                          '{"instruction":"x","input":null,"output":"y"}]'))
msgs = '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":" hi "},' \
       '{"role":"assistant","content":"hello"}]}\n'
put("data", "chat_chatml", data(5, 2, 0, msgs))
put("data", "chat_default_llama3", data(0, 0, 2 << 4, msgs))
put("data", "chat_llama2", data(5, 4, 0, msgs))
put("data", "chat_zephyr", data(5, 5, 4 << 4, msgs))
put("data", "text", data(6, 0, 1, '{"text":"the quick brown fox"}\n{"text":""}\n'))
put("data", "text_auto_array", data(0, 0, 3, '[{"text":"he the"},{"text":"t"}]'))
put("data", "alpaca_file", data(4, 7, 0, '{"instruction":"a","input":"b","output":"c","extra":"d"}\n',
                                "Q: {instruction} {{x}} {extra}\nA: {response}"))

# ---- adapter: adapter_config.json NUL adapter_model.safetensors (tiny model of fuzz_adapter.c)
P = "base_model.model.model.layers.%d.%s"
lora_cfg = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
            "fan_in_fan_out": False, "use_dora": False, "use_rslora": False, "init_lora_weights": True,
            "rank_pattern": {}, "alpha_pattern": {}, "task_type": "CAUSAL_LM"}
ts = []
for l in range(2):
    ts.append((P % (l, "self_attn.q_proj.lora_A.weight"), "F32", [2, 16], f32([0.01] * 32)))
    ts.append((P % (l, "self_attn.q_proj.lora_B.weight"), "F32", [16, 2], f32([0.02] * 32)))
    ts.append((P % (l, "self_attn.v_proj.lora_A.weight"), "BF16", [2, 16], b"\x00\x3c" * 32))
    ts.append((P % (l, "self_attn.v_proj.lora_B.weight"), "F16", [8, 2], b"\x00\x3c" * 16))
put("adapter", "lora", json.dumps(lora_cfg, indent=2).encode() + b"\0" + safetensors(ts, {"format": "pt"}))
miss = {"peft_type": "MISS", "r": 8, "init_weights": "bat", "target_modules": ["q_proj", "down_proj"]}
ts = [(P % (0, "self_attn.q_proj.miss_block"), "F32", [2, 8, 8], f32([0.001] * 128)),
      (P % (1, "mlp.down_proj.miss_block"), "F32", [2, 8, 8], f32([0.002] * 128))]
put("adapter", "miss_bat", json.dumps(miss).encode() + b"\0" + safetensors(ts))
put("adapter", "bone_row", json.dumps(dict(miss, bone_variant="row")).encode() + b"\0" + safetensors(
    [(P % (0, "self_attn.q_proj.miss_block"), "F32", [2, 8, 8], f32([0.001] * 128))]))
put("adapter", "bone_grid", json.dumps(dict(miss, bone_variant="grid", bone_grid=[1, 2])).encode() + b"\0" +
    safetensors([(P % (0, "mlp.up_proj.miss_block"), "F32", [2, 8, 8], f32([0.0] * 128))]))
free = {"peft_type": "BONE", "r": 8, "init_weights": True}
put("adapter", "bone_free", json.dumps(free).encode() + b"\0" + safetensors(
    [(P % (0, "self_attn.k_proj.bone_block"), "F32", [8, 8], f32([0.1] * 64))]))
# ---- gguf: whole GGUF v3 files (docs/GGUF.md §3.1): scalars, strings, arrays, the alignment key,
# F32 / F16 / BF16 / Q8_0 tensors with aligned offsets
def gguf(kvs, tensors, align=32):
    """kvs: list of (key, type id, value); ARRAY values are (element type, [values]).
    tensors: list of (name, [ne...], ggml type, raw bytes)"""
    sfmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}
    def gs(x):
        x = x.encode() if isinstance(x, str) else x
        return struct.pack("<Q", len(x)) + x
    def val(t, v):
        if t == 8:
            return gs(v)
        if t == 9:
            return struct.pack("<IQ", v[0], len(v[1])) + b"".join(val(v[0], e) for e in v[1])
        return struct.pack(sfmt[t], v)
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gs(k) + struct.pack("<I", t) + val(t, v)
    off, data = 0, b""
    for name, ne, t, raw in tensors:
        out += gs(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", t, off)
        pad = (align - len(raw) % align) % align
        data += raw + b"\0" * pad
        off += len(raw) + pad
    out += b"\0" * ((align - len(out) % align) % align)
    return out + data

q8 = struct.pack("<e", 0.01) + bytes(range(32))
put("gguf", "model", gguf(
    [("general.architecture", 8, "llama"), ("llama.block_count", 4, 1), ("llama.rope.freq_base", 6, 10000.0),
     ("tokenizer.ggml.add_bos_token", 7, 0), ("tokenizer.ggml.tokens", 9, (8, ["a", "b", "\u0120c"])),
     ("tokenizer.ggml.token_type", 9, (5, [1, 1, 3])), ("tokenizer.ggml.scores", 9, (6, [0.0, -1.0, -2.0])),
     ("x.u64", 10, 7), ("x.i8", 1, -3), ("x.f64", 12, 0.5), ("x.u16", 2, 9), ("x.i64", 11, -9)],
    [("token_embd.weight", [4, 3], 0, f32([0.5] * 12)), ("blk.0.attn_q.weight", [4, 4], 1, b"\x00\x3c" * 16),
     ("blk.0.attn_k.weight", [4, 2], 30, b"\x80\x3f" * 8), ("blk.0.ffn_up.weight", [32, 2], 8, q8 * 2),
     ("output_norm.weight", [4], 0, f32([1.0] * 4))]))
put("gguf", "adapter", gguf(
    [("general.architecture", 8, "llama"), ("general.type", 8, "adapter"), ("adapter.type", 8, "lora"),
     ("adapter.lora.alpha", 6, 8.0), ("general.alignment", 4, 64)],
    [("blk.0.attn_q.weight.lora_a", [4, 2], 0, f32([0.1] * 8)), ("blk.0.attn_q.weight.lora_b", [2, 4], 0, f32([0.2] * 8))],
    align=64))
put("gguf", "empty", gguf([], []))
print("seeds written to", CORPUS)
