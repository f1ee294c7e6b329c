#!/usr/bin/python3
"""build_corpus.py — the pretraining text of bone's embedded default model.

Public-domain King James Bible (Debian's bible-kjv-text, dumped by `bible`) and the questions
(not the answers) of GSM8K's train split (MIT). Documents are ~900 characters (about 256
tokens): Bible chapters cut at verse boundaries, and runs of consecutive GSM8K questions.
Every 50th document goes to the held-out file.

usage: build_corpus.py KJV.txt GSM8K_TRAIN.jsonl CORPUS.txt TRAIN.jsonl HELDOUT.jsonl
"""
import json
import re
import sys

TARGET = 900
SEP = "<|endoftext|>"


def kjv_docs(path):
    """Chapters as 'Book N' headings followed by numbered verses wrapped across lines."""
    docs, verses, title = [], [], None
    verse_re = re.compile(r"^\s+(\d+) (.*)$")
    head_re = re.compile(r"^(\S.*\S) (\d+)$")
    cur = None

    def flush():
        if title is None:
            return
        chunk = title
        for v in verses:
            if len(chunk) + len(v) + 1 > TARGET and chunk != title:
                docs.append(chunk)
                chunk = title + " (continued)"
            chunk += "\n" + v
        docs.append(chunk)

    for line in open(path, encoding="utf-8", errors="strict"):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        m = verse_re.match(line)
        if m:
            if cur is not None:
                verses.append(cur)
            cur = m.group(1) + " " + m.group(2)
            continue
        h = head_re.match(line)
        if h and cur is not None and not line.startswith(" "):
            # either a new chapter heading or the wrapped tail of a verse
            if h.group(1)[0].isupper() and len(line) < 40 and not line.endswith("."):
                verses.append(cur)
                cur = None
                flush()
                title, verses = line, []
                continue
        if cur is None and h:
            flush()
            title, verses = line, []
            continue
        cur = (cur + " " + line.strip()) if cur is not None else line.strip()
    if cur is not None:
        verses.append(cur)
    flush()
    return docs


def gsm8k_docs(path):
    docs, chunk = [], ""
    for line in open(path, encoding="utf-8"):
        q = json.loads(line)["question"].strip()
        if chunk and len(chunk) + len(q) + 2 > TARGET:
            docs.append(chunk)
            chunk = ""
        chunk = q if not chunk else chunk + "\n\n" + q
    if chunk:
        docs.append(chunk)
    return docs


def main():
    kjv, gsm, corpus, train, held = sys.argv[1:6]
    a, b = kjv_docs(kjv), gsm8k_docs(gsm)
    # interleave the two sources so every stretch of training sees both
    docs, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        if i < len(a):
            docs.append(a[i]); i += 1
        if i < len(a) and len(a) > 2 * len(b):
            docs.append(a[i]); i += 1
        if j < len(b):
            docs.append(b[j]); j += 1
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(SEP.join(docs))
    nt = nh = 0
    with open(train, "w", encoding="utf-8") as ft, open(held, "w", encoding="utf-8") as fh:
        for k, d in enumerate(docs):
            out = fh if k % 50 == 49 else ft
            out.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
            nh += out is fh
            nt += out is ft
    print(f"{len(a)} Bible documents, {len(b)} GSM8K-question documents: {nt} train, {nh} held out, "
          f"{sum(map(len, docs)) / 1e6:.2f} M characters")


if __name__ == "__main__":
    main()
