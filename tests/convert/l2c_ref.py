"""l2c_ref.py — an independent Python/numpy model of llama2.c (FORMATS.md §3) for the convert
tests: writers for legacy / version-1 checkpoints and tokenizer.bin, a small BPE trainer for a
realistic vocabulary, run.c's encode (score-ordered merges) and decode, and run.c's forward
(interleaved RoPE, computed directly from the .bin file) with greedy decoding.
Written from the format description, not from bone's C code."""
import re
import struct

import numpy as np

BOS, EOS = 1, 2


# ---- tokenizer.bin ---------------------------------------------------------------------------
def base_pieces():
    """ids 0..258 as llama2.c stores them: <unk>, BOS, EOS, then the 256 byte pieces."""
    return ["<unk>", "\n<s>\n", "\n</s>\n"] + ["<0x%02X>" % b for b in range(256)]


def train_bpe(texts, n_merges):
    """A SentencePiece-like BPE: words carry a leading space (the dummy prefix / ▁); returns
    (pieces, scores) with ids 0..258 as llama2.c has them, then merged pieces (score = -rank),
    then single characters (lower scores), like sentencepiece's vocabulary order."""
    words = {}
    chars = set()
    for t in texts:
        for w in re.findall(r" ?[^ ]+", " " + t.replace("\n", " ")):
            words[w] = words.get(w, 0) + 1
            chars.update(w)
    seqs = {w: list(w) for w in words}
    merged = []
    for _ in range(n_merges):
        counts = {}
        for w, f in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + f
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        ab = a + b
        merged.append(ab)
        for w in words:
            s = seqs[w]
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(ab)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    pieces = base_pieces()
    scores = [0.0] * len(pieces)
    seen = set(pieces)
    for i, p in enumerate(merged):
        if p not in seen:
            pieces.append(p)
            scores.append(-float(i))
            seen.add(p)
    for i, c in enumerate(sorted(chars | {" "})):
        if c not in seen:
            pieces.append(c)
            scores.append(-float(len(merged) + i))
            seen.add(c)
    return pieces, scores


def write_tokenizer_bin(path, pieces, scores):
    bs = [p.encode("utf-8") for p in pieces]
    with open(path, "wb") as f:
        f.write(struct.pack("<I", max(len(b) for b in bs)))
        for b, s in zip(bs, scores):
            f.write(struct.pack("<fi", s, len(b)))
            f.write(b)


def read_tokenizer_bin(path, vocab):
    data = open(path, "rb").read()
    off = 4
    pieces, scores = [], []
    for _ in range(vocab):
        s, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n])
        scores.append(s)
        off += n
    return pieces, scores


class RunCTokenizer:
    """run.c's encode and decode over the raw tokenizer.bin pieces (bytes)."""

    def __init__(self, pieces, scores):
        self.pieces = pieces
        self.scores = scores
        self.lookup = {}
        for i, p in enumerate(pieces):
            self.lookup.setdefault(p, i)

    def encode(self, text, bos, eos):
        toks = [BOS] if bos else []
        if text:
            toks.append(self.lookup[b" "])  # dummy prefix
        for ch in text:
            b = ch.encode("utf-8")
            if b in self.lookup:
                toks.append(self.lookup[b])
            else:
                toks.extend(x + 3 for x in b)
        while True:
            best, best_id, best_i = None, -1, -1
            for i in range(len(toks) - 1):
                cat = self.pieces[toks[i]] + self.pieces[toks[i + 1]]
                j = self.lookup.get(cat)
                if j is not None and (best is None or self.scores[j] > best):
                    best, best_id, best_i = self.scores[j], j, i
            if best_i < 0:
                break
            toks[best_i:best_i + 2] = [best_id]
        if eos:
            toks.append(EOS)
        return toks


def hf_decode(pieces, ids):
    """What the converted tokenizer.json's legacy decoder gives for ids (skipping specials):
    ▁→space, runs of <0xHH> → bytes (U+FFFD per byte if the run is not valid UTF-8), fuse,
    strip one leading space (FORMATS.md §4.8). pieces are tokenizer.bin bytes (space form)."""
    out, run = [], bytearray()

    def flush():
        if run:
            try:
                out.append(bytes(run).decode("utf-8"))
            except UnicodeDecodeError:
                out.append("\ufffd" * len(run))
            run.clear()

    for i in ids:
        if i < 3:
            continue
        p = pieces[i]
        m = re.fullmatch(rb"<0x([0-9A-F]{2})>", p)
        if m:
            run.append(int(m.group(1), 16))
            continue
        flush()
        out.append(p.decode("utf-8"))
    flush()
    s = "".join(out)
    return s[1:] if s.startswith(" ") else s


def runc_text(pieces, prev, ids):
    """The text run.c prints for ids generated after token prev: its decode() drops the leading
    space of a piece that follows BOS, turns <0xHH> into the byte, and safe_printf skips single
    bytes that are neither printable nor whitespace."""
    out = bytearray()
    for i in ids:
        p = pieces[i]
        if prev == BOS and p.startswith(b" "):
            p = p[1:]
        m = re.fullmatch(rb"<0x([0-9A-F]{2})>", p)
        if m:
            p = bytes([int(m.group(1), 16)])
        if not (len(p) == 1 and not (chr(p[0]).isprintable() or chr(p[0]).isspace()) or len(p) == 1 and p[0] >= 0x80):
            out += p
        prev = i
    return out.decode("utf-8", "surrogateescape")


# ---- checkpoints -----------------------------------------------------------------------------
def random_weights(rng, dim, hidden, n_layers, n_heads, n_kv, vocab, shared):
    hs = dim // n_heads
    kvd = n_kv * hs

    def mat(o, i, gain=1.0):
        return (rng.standard_normal((o, i)) * gain / np.sqrt(i)).astype(np.float32)

    w = {
        "emb": rng.standard_normal((vocab, dim)).astype(np.float32),
        "att": (1 + 0.1 * rng.standard_normal((n_layers, dim))).astype(np.float32),
        "wq": np.stack([mat(dim, dim, 2.0) for _ in range(n_layers)]),
        "wk": np.stack([mat(kvd, dim, 2.0) for _ in range(n_layers)]),
        "wv": np.stack([mat(kvd, dim) for _ in range(n_layers)]),
        # block outputs larger than the embedding, so that attention (and RoPE) decide the
        # next token rather than the tied embedding echoing the current one
        "wo": np.stack([mat(dim, dim, 4.0) for _ in range(n_layers)]),
        "ffn": (1 + 0.1 * rng.standard_normal((n_layers, dim))).astype(np.float32),
        "w1": np.stack([mat(hidden, dim) for _ in range(n_layers)]),
        "w2": np.stack([mat(dim, hidden, 4.0) for _ in range(n_layers)]),
        "w3": np.stack([mat(hidden, dim) for _ in range(n_layers)]),
        "fin": (1 + 0.1 * rng.standard_normal(dim)).astype(np.float32),
        "cls": None if shared else (rng.standard_normal((vocab, dim)) / 2).astype(np.float32),
    }
    return w


def write_checkpoint(path, w, dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len, version=0):
    shared = w["cls"] is None
    hs = dim // n_heads
    with open(path, "wb") as f:
        if version == 0:
            f.write(struct.pack("<7i", dim, hidden, n_layers, n_heads, n_kv, vocab if shared else -vocab, seq_len))
            order = ["emb", "att", "wq", "wk", "wv", "wo", "ffn", "w1", "w2", "w3", "fin"]
        else:
            hdr = struct.pack("<Ii7iB", 0x616B3432, version, dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len,
                              1 if shared else 0)
            f.write(hdr + b"\0" * (256 - len(hdr)))
            order = ["att", "ffn", "fin", "emb", "wq", "wk", "wv", "wo", "w1", "w2", "w3"]
        for k in order:
            f.write(np.ascontiguousarray(w[k], dtype="<f4").tobytes())
        if version == 0:  # freq_cis_real, freq_cis_imag as export.py writes them
            inv = 1.0 / (10000.0 ** (np.arange(0, hs, 2)[: hs // 2] / hs))
            ang = np.outer(np.arange(seq_len), inv)
            f.write(np.cos(ang).astype("<f4").tobytes())
            f.write(np.sin(ang).astype("<f4").tobytes())
        if not shared:
            f.write(np.ascontiguousarray(w["cls"], dtype="<f4").tobytes())


def read_checkpoint(path):
    """Reads a legacy or v1 file back into float64 arrays (independent of the writer's dict)."""
    data = open(path, "rb").read()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic == 0x616B3432:
        ver = struct.unpack_from("<i", data, 4)[0]
        assert ver == 1
        dim, hidden, L, nh, nkv, V, seq = struct.unpack_from("<7i", data, 8)
        shared = data[36] == 1
        off = 256
        order = ["att", "ffn", "fin", "emb", "wq", "wk", "wv", "wo", "w1", "w2", "w3"]
    else:
        dim, hidden, L, nh, nkv, V, seq = struct.unpack_from("<7i", data, 0)
        shared = V > 0
        V = abs(V)
        off = 28
        order = ["emb", "att", "wq", "wk", "wv", "wo", "ffn", "w1", "w2", "w3", "fin", "freq"]
    hs = dim // nh
    kvd = nkv * hs
    shapes = {"emb": (V, dim), "att": (L, dim), "wq": (L, dim, dim), "wk": (L, kvd, dim), "wv": (L, kvd, dim),
              "wo": (L, dim, dim), "ffn": (L, dim), "w1": (L, hidden, dim), "w2": (L, dim, hidden),
              "w3": (L, hidden, dim), "fin": (dim,), "freq": (2, seq, hs // 2), "cls": (V, dim)}
    if not shared:
        order.append("cls")
    w = {}
    for k in order:
        n = int(np.prod(shapes[k]))
        w[k] = np.frombuffer(data, "<f4", n, off).astype(np.float64).reshape(shapes[k])
        off += 4 * n
    assert off == len(data), "size mismatch"
    if shared:
        w["cls"] = w["emb"]
    cfg = dict(dim=dim, hidden=hidden, L=L, nh=nh, nkv=nkv, V=V, seq=seq, hs=hs, kvd=kvd)
    return cfg, w


def rmsnorm(x, wt):
    return wt * (x / np.sqrt(np.mean(x * x) + 1e-5))


def runc_generate(path, prompt_ids, steps):
    """run.c's forward, one position at a time with a KV cache, interleaved RoPE on q and k;
    feeds the prompt, then `steps` greedy tokens (no stop). Returns (ids, min top-2 gap)."""
    c, w = read_checkpoint(path)
    dim, hs, L, nh, nkv = c["dim"], c["hs"], c["L"], c["nh"], c["nkv"]
    kv_mul = nh // nkv
    kc = np.zeros((L, c["seq"], c["kvd"]))
    vc = np.zeros((L, c["seq"], c["kvd"]))
    out, gaps = [], []
    tok = prompt_ids[0]
    total = len(prompt_ids) - 1 + steps
    for pos in range(total):
        x = w["emb"][tok].copy()
        for l in range(L):
            xb = rmsnorm(x, w["att"][l])
            q = w["wq"][l] @ xb
            k = w["wk"][l] @ xb
            v = w["wv"][l] @ xb
            # run.c: for each pair (i, i+1), i even: freq = 10000^-((i % hs) / hs); q always,
            # k while i < kv_dim
            idx = np.arange(0, dim, 2)
            ang = pos * (1.0 / (10000.0 ** ((idx % hs) / hs)))
            cr, ci = np.cos(ang), np.sin(ang)
            for vec in (q, k):
                m = len(vec) // 2
                v0, v1 = vec[0::2].copy(), vec[1::2].copy()
                vec[0::2] = v0 * cr[:m] - v1 * ci[:m]
                vec[1::2] = v0 * ci[:m] + v1 * cr[:m]
            kc[l, pos] = k
            vc[l, pos] = v
            att_out = np.zeros(dim)
            for h in range(nh):
                qh = q[h * hs:(h + 1) * hs]
                kvh = h // kv_mul
                ks = kc[l, :pos + 1, kvh * hs:(kvh + 1) * hs]
                sc = ks @ qh / np.sqrt(hs)
                sc = np.exp(sc - sc.max())
                sc /= sc.sum()
                att_out[h * hs:(h + 1) * hs] = sc @ vc[l, :pos + 1, kvh * hs:(kvh + 1) * hs]
            x = x + w["wo"][l] @ att_out
            xb = rmsnorm(x, w["ffn"][l])
            h1 = w["w1"][l] @ xb
            h3 = w["w3"][l] @ xb
            x = x + w["w2"][l] @ (h1 / (1 + np.exp(-h1)) * h3)
        logits = w["cls"] @ rmsnorm(x, w["fin"])
        if pos < len(prompt_ids) - 1:
            tok = prompt_ids[pos + 1]
            continue
        order = np.argsort(-logits)
        gaps.append(logits[order[0]] - logits[order[1]])
        tok = int(order[0])
        out.append(tok)
    return out, (min(gaps) if gaps else float("inf")), gaps
