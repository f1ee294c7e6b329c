/* tok_encode.c — the encode pipeline (FORMATS.md §4.2): added-token split on the raw text,
 * normalizers, pre-tokenizers (Split regex via PCRE2, ByteLevel, Metaspace), BPE per word with a
 * merge-rank hash map, a heap and a word cache, the TemplateProcessing post-processor; and the
 * llama2.c score-merging encoder (§3.4). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "core/utf8.h"
#include "tokenizer/tok_internal.h"

/* ---- word lists -------------------------------------------------------------------------- */
typedef struct word {
    size_t off, len;
    int first; /* begins at offset 0 of the original text (Metaspace prepend_scheme "first") */
} word;
typedef struct wlist {
    tok_buf text;
    word *w;
    size_t n, cap;
} wlist;

static void wl_clear(wlist *l) {
    l->text.n = 0;
    l->n = 0;
}
static void wl_push(wlist *l, const char *s, size_t n, int first) {
    if (!n) return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->w = xrealloc(l->w, l->cap * sizeof *l->w);
    }
    l->w[l->n++] = (word){l->text.n, n, first};
    tok_buf_add(&l->text, s, n);
}
/* Pushes a word built from two parts (prefix + s). */
static void wl_push2(wlist *l, const char *a, size_t na, const char *s, size_t n, int first) {
    if (na + n == 0) return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->w = xrealloc(l->w, l->cap * sizeof *l->w);
    }
    l->w[l->n++] = (word){l->text.n, na + n, first};
    tok_buf_add(&l->text, a, na);
    tok_buf_add(&l->text, s, n);
}
static void wl_free(wlist *l) {
    tok_buf_free(&l->text);
    free(l->w);
}

/* ---- scratch for one encode call --------------------------------------------------------- */
typedef struct sym {
    int32_t id, prev, next;
    int alive;
} sym;
typedef struct hent {
    int32_t rank, pos, id;
    int32_t a, b; /* the pair's ids when pushed: still valid iff both symbols still hold them */
} hent;

typedef struct ctx {
    pcre2_match_data *md;
    wlist a, b;
    tok_buf n1, n2;
    sym *s;
    size_t scap;
    hent *h;
    size_t hn, hcap;
    tok_ids word_ids;
    tok_buf cat;
} ctx;

static void ctx_free(ctx *c) {
    if (c->md) pcre2_match_data_free(c->md);
    wl_free(&c->a);
    wl_free(&c->b);
    tok_buf_free(&c->n1);
    tok_buf_free(&c->n2);
    free(c->s);
    free(c->h);
    free(c->word_ids.p);
    tok_buf_free(&c->cat);
}

/* ---- heap (min by rank, then position) ---------------------------------------------------- */
static inline int hless(const hent *a, const hent *b) { return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos); }
static void hpush(ctx *c, int32_t rank, int32_t pos, int32_t id, int32_t a, int32_t b) {
    if (c->hn == c->hcap) {
        c->hcap = c->hcap ? c->hcap * 2 : 256;
        c->h = xrealloc(c->h, c->hcap * sizeof *c->h);
    }
    size_t i = c->hn++;
    c->h[i] = (hent){rank, pos, id, a, b};
    while (i) {
        size_t p = (i - 1) / 2;
        if (!hless(&c->h[i], &c->h[p])) break;
        hent t = c->h[i]; c->h[i] = c->h[p]; c->h[p] = t;
        i = p;
    }
}
static hent hpop(ctx *c) {
    hent top = c->h[0];
    c->h[0] = c->h[--c->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->hn && hless(&c->h[l], &c->h[m])) m = l;
        if (r < c->hn && hless(&c->h[r], &c->h[m])) m = r;
        if (m == i) break;
        hent t = c->h[i]; c->h[i] = c->h[m]; c->h[m] = t;
        i = m;
    }
    return top;
}

/* Merge lookup: BPE merge table, or llama2.c concatenated-piece lookup ranked by score. */
static int pair(const bone_tokenizer *t, ctx *c, int32_t a, int32_t b, int32_t *rank, int32_t *id) {
    if (t->kind == TOK_KIND_HF) return tok_mmap_get(&t->merges, a, b, rank, id);
    c->cat.n = 0;
    tok_buf_add(&c->cat, t->piece[a], t->piece_len[a]);
    tok_buf_add(&c->cat, t->piece[b], t->piece_len[b]);
    int32_t m = tok_smap_get(&t->vocab, c->cat.p, c->cat.n);
    if (m < 0) return 0;
    *rank = t->score_rank[m];
    *id = m;
    return 1;
}

static void sym_push(ctx *c, size_t *n, int32_t id) {
    if (*n == c->scap) {
        c->scap = c->scap ? c->scap * 2 : 256;
        c->s = xrealloc(c->s, c->scap * sizeof *c->s);
    }
    c->s[*n] = (sym){id, (int32_t)*n - 1, (int32_t)*n + 1, 1};
    (*n)++;
}

/* Runs the merges over c->s[0..n) and appends the surviving ids to out. */
static void merge_all(const bone_tokenizer *t, ctx *c, size_t n, tok_ids *out) {
    if (!n) return;
    c->s[n - 1].next = -1;
    c->hn = 0;
    int32_t rank, id;
    for (size_t i = 0; i + 1 < n; i++)
        if (pair(t, c, c->s[i].id, c->s[i + 1].id, &rank, &id)) hpush(c, rank, (int32_t)i, id, c->s[i].id, c->s[i + 1].id);
    while (c->hn) {
        hent top = hpop(c);
        sym *x = &c->s[top.pos];
        if (!x->alive || x->next < 0 || x->id != top.a) continue;
        sym *y = &c->s[x->next];
        if (y->id != top.b) continue; /* same ids → same (rank, merged id): no second lookup */
        x->id = top.id;
        y->alive = 0;
        x->next = y->next;
        if (y->next >= 0) c->s[y->next].prev = top.pos;
        if (x->prev >= 0 && pair(t, c, c->s[x->prev].id, x->id, &rank, &id))
            hpush(c, rank, x->prev, id, c->s[x->prev].id, x->id);
        if (x->next >= 0 && pair(t, c, x->id, c->s[x->next].id, &rank, &id))
            hpush(c, rank, top.pos, id, x->id, c->s[x->next].id);
    }
    for (int32_t i = 0; i >= 0; i = c->s[i].next) tok_ids_add(out, c->s[i].id);
}

/* ---- BPE on one word --------------------------------------------------------------------- */
static int bpe_word(bone_tokenizer *t, ctx *c, const char *w, size_t n, tok_ids *out, bone_err *e) {
    const int32_t *cached;
    size_t ncached;
    int cacheable = n <= 64;
    if (cacheable && tok_cache_get(&t->cache, w, n, &cached, &ncached)) {
        tok_ids_addn(out, cached, ncached);
        return 0;
    }
    size_t start_out = out->n;
    if (t->ignore_merges) {
        int32_t id = t->byte_level ? tok_smap_get(&t->raw_vocab, w, n) : tok_smap_get(&t->vocab, w, n);
        if (id >= 0) {
            tok_ids_add(out, id);
            goto done;
        }
    }
    size_t ns = 0;
    if (t->byte_level) {
        for (size_t i = 0; i < n; i++) {
            int32_t id = t->byte_id[(unsigned char)w[i]];
            if (id < 0) {
                if (t->unk_id < 0)
                    return bone_fail(e, "%s: byte 0x%02X has no token in the byte-level vocabulary", t->path,
                                     (unsigned char)w[i]);
                id = t->unk_id;
            }
            sym_push(c, &ns, id);
        }
    } else {
        int prev_unk = 0;
        for (size_t i = 0; i < n;) {
            size_t k = tok_u8len((unsigned char)w[i]);
            int32_t id = tok_smap_get(&t->vocab, w + i, k);
            if (id >= 0) {
                sym_push(c, &ns, id);
                prev_unk = 0;
            } else {
                int all = t->byte_fallback;
                for (size_t j = 0; all && j < k; j++) all = t->byte_id[(unsigned char)w[i + j]] >= 0;
                if (all) {
                    for (size_t j = 0; j < k; j++) sym_push(c, &ns, t->byte_id[(unsigned char)w[i + j]]);
                    prev_unk = 0;
                } else if (t->unk_id >= 0) {
                    if (!(t->fuse_unk && prev_unk)) sym_push(c, &ns, t->unk_id);
                    prev_unk = 1;
                } else {
                    uint32_t cp;
                    tok_u8dec(w + i, &cp);
                    return bone_fail(e, "%s: character U+%04X is not in the vocabulary and there is no unk_token", t->path,
                                     (unsigned)cp);
                }
            }
            i += k;
        }
    }
    merge_all(t, c, ns, out);
done:
    if (cacheable) tok_cache_put(&t->cache, w, n, out->p + start_out, out->n - start_out);
    return 0;
}

/* ---- normalizers ------------------------------------------------------------------------- */
static int all_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

/* Normalizes s[0..n) into c->n1 (or returns s itself when there are no normalizers). */
static int normalize(const bone_tokenizer *t, ctx *c, const char *s, size_t n, const char **out, size_t *outn,
                     bone_err *e) {
    if (!t->nnorm) {
        *out = s;
        *outn = n;
        return 0;
    }
    c->n1.n = 0;
    tok_buf_add(&c->n1, s, n);
    for (size_t k = 0; k < t->nnorm; k++) {
        const tok_norm *nm = &t->norm[k];
        tok_buf *src = &c->n1, *dst = &c->n2;
        dst->n = 0;
        switch (nm->type) {
        case NORM_NFC: case NORM_NFD: case NORM_NFKC: case NORM_NFKD: {
            if (all_ascii(src->p, src->n)) continue;
            int opt = UTF8PROC_STABLE;
            if (nm->type == NORM_NFC) opt |= UTF8PROC_COMPOSE;
            else if (nm->type == NORM_NFD) opt |= UTF8PROC_DECOMPOSE;
            else if (nm->type == NORM_NFKC) opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
            else opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
            utf8proc_uint8_t *res = NULL;
            utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)src->p, (utf8proc_ssize_t)src->n, &res,
                                              (utf8proc_option_t)opt);
            if (r < 0) return bone_fail(e, "%s: Unicode normalisation failed: %s", t->path, utf8proc_errmsg(r));
            tok_buf_add(dst, res, (size_t)r);
            free(res);
            break;
        }
        case NORM_PREPEND:
            if (src->n) tok_buf_add(dst, nm->a, strlen(nm->a));
            tok_buf_add(dst, src->p, src->n);
            break;
        case NORM_REPLACE: {
            size_t la = strlen(nm->a), lb = strlen(nm->b);
            for (size_t i = 0; i < src->n;) {
                if (i + la <= src->n && !memcmp(src->p + i, nm->a, la)) {
                    tok_buf_add(dst, nm->b, lb);
                    i += la;
                } else tok_buf_addc(dst, src->p[i++]);
            }
            break;
        }
        }
        tok_buf tmp = c->n1;
        c->n1 = c->n2;
        c->n2 = tmp;
    }
    *out = c->n1.p ? c->n1.p : "";
    *outn = c->n1.n;
    return 0;
}

/* ---- pre-tokenizers ---------------------------------------------------------------------- */
static int regex_split(const bone_tokenizer *t, ctx *c, pcre2_code *re, tok_split_behavior beh, const wlist *in,
                       wlist *out, bone_err *e) {
    if (!c->md) c->md = pcre2_match_data_create(4, NULL);
    for (size_t k = 0; k < in->n; k++) {
        const char *s = in->text.p + in->w[k].off;
        size_t n = in->w[k].len, pos = 0, last = 0;
        int first = in->w[k].first;
        size_t pend_start = 0; /* MergedWithNext: start of the pending piece */
        while (pos < n) {
            int rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, c->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return bone_fail(e, "%s: regex match failed: %s", t->path, (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) { /* empty match: step one character */
                pos = ms + tok_u8len((unsigned char)s[ms]);
                continue;
            }
            switch (beh) {
            case SPLIT_ISOLATED:
                wl_push(out, s + last, ms - last, first && last == 0);
                wl_push(out, s + ms, me - ms, first && ms == 0);
                break;
            case SPLIT_REMOVED:
                wl_push(out, s + last, ms - last, first && last == 0);
                break;
            case SPLIT_MERGED_PREV:
                wl_push(out, s + last, me - last, first && last == 0);
                break;
            case SPLIT_MERGED_NEXT:
                wl_push(out, s + pend_start, ms - pend_start, first && pend_start == 0);
                pend_start = ms;
                break;
            case SPLIT_CONTIGUOUS: break;
            }
            last = me;
            pos = me;
        }
        if (beh == SPLIT_MERGED_NEXT) wl_push(out, s + pend_start, n - pend_start, first && pend_start == 0);
        else wl_push(out, s + last, n - last, first && last == 0);
    }
    return 0;
}

static int pretokenize(const bone_tokenizer *t, ctx *c, const char *s, size_t n, int first, wlist **res,
                       bone_err *e) {
    wlist *in = &c->a, *out = &c->b;
    wl_clear(in);
    wl_push(in, s, n, first);
    for (size_t k = 0; k < t->npre; k++) {
        const tok_pre *p = &t->pre[k];
        wl_clear(out);
        switch (p->type) {
        case PRE_SPLIT:
            if (regex_split(t, c, p->re, p->behavior, in, out, e)) return -1;
            break;
        case PRE_BYTELEVEL:
            if (p->add_prefix_space) {
                for (size_t i = 0; i < in->n; i++) {
                    const char *w = in->text.p + in->w[i].off;
                    int sp = w[0] != ' ';
                    wl_push2(out, " ", sp ? 1 : 0, w, in->w[i].len, in->w[i].first);
                }
                wlist *tmp = in; in = out; out = tmp;
                wl_clear(out);
            }
            if (p->re) {
                if (regex_split(t, c, p->re, SPLIT_ISOLATED, in, out, e)) return -1;
            } else {
                wlist *tmp = in; in = out; out = tmp;
            }
            break;
        case PRE_METASPACE: {
            size_t lr = strlen(p->replacement);
            for (size_t i = 0; i < in->n; i++) {
                const char *w = in->text.p + in->w[i].off;
                size_t wn = in->w[i].len;
                c->n2.n = 0;
                for (size_t j = 0; j < wn; j++) {
                    if (w[j] == ' ') tok_buf_add(&c->n2, p->replacement, lr);
                    else tok_buf_addc(&c->n2, w[j]);
                }
                int starts = c->n2.n >= lr && !memcmp(c->n2.p, p->replacement, lr);
                int pre = !starts && (p->scheme == PREPEND_ALWAYS || (p->scheme == PREPEND_FIRST && in->w[i].first));
                if (!p->split) {
                    wl_push2(out, p->replacement, pre ? lr : 0, c->n2.p, c->n2.n, in->w[i].first);
                } else {
                    /* split before each replacement (MergedWithNext) */
                    tok_buf whole = {0};
                    if (pre) tok_buf_add(&whole, p->replacement, lr);
                    tok_buf_add(&whole, c->n2.p, c->n2.n);
                    size_t st = 0;
                    for (size_t j = 1; j + lr <= whole.n; j++)
                        if (!memcmp(whole.p + j, p->replacement, lr)) {
                            wl_push(out, whole.p + st, j - st, in->w[i].first && st == 0);
                            st = j;
                        }
                    wl_push(out, whole.p + st, whole.n - st, in->w[i].first && st == 0);
                    tok_buf_free(&whole);
                }
            }
            break;
        }
        }
        wlist *tmp = in; in = out; out = tmp;
    }
    *res = in;
    return 0;
}

/* ---- added tokens ------------------------------------------------------------------------ */
static int word_char_before(const char *s, size_t pos) {
    if (!pos) return 0;
    size_t i = pos - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    uint32_t cp;
    tok_u8dec(s + i, &cp);
    return cp == '_' || (cp < 0x80 ? ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9') : !tok_is_ws(cp));
}
static int word_char_at(const char *s, size_t n, size_t pos) {
    if (pos >= n) return 0;
    uint32_t cp;
    tok_u8dec(s + pos, &cp);
    return cp == '_' || (cp < 0x80 ? ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9') : !tok_is_ws(cp));
}

/* Finds the leftmost-longest added token (with the given `normalized` flag) in s[from..n).
 * On a hit sets [*ms,*me) to the span to replace (extended by lstrip/rstrip) and *id. */
static int find_added(const bone_tokenizer *t, const char *s, size_t n, size_t from, size_t floor_, int normalized,
                      size_t *ms, size_t *me, int32_t *id) {
    for (size_t i = from; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (!t->added_first[b]) continue;
        for (size_t k = 0; k < t->nadded; k++) {
            const tok_added *a = &t->added[k];
            if (a->normalized != normalized || (unsigned char)a->content[0] != b || a->len > n - i) continue;
            if (memcmp(s + i, a->content, a->len)) continue;
            size_t st = i, en = i + a->len;
            if (a->single_word && (word_char_before(s, st) || word_char_at(s, n, en))) continue;
            if (a->lstrip)
                while (st > floor_) {
                    size_t j = st - 1;
                    while (j > floor_ && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                    uint32_t cp;
                    tok_u8dec(s + j, &cp);
                    if (!tok_is_ws(cp)) break;
                    st = j;
                }
            if (a->rstrip)
                while (en < n) {
                    uint32_t cp;
                    size_t k2 = tok_u8dec(s + en, &cp);
                    if (!tok_is_ws(cp)) break;
                    en += k2;
                }
            *ms = st;
            *me = en;
            *id = a->id;
            return 1;
        }
    }
    return 0;
}

/* Normalized piece → (normalized added tokens) → pre-tokenizer → BPE. */
static int encode_normalized(bone_tokenizer *t, ctx *c, const char *s, size_t n, int first, tok_ids *out, bone_err *e) {
    wlist *words;
    if (pretokenize(t, c, s, n, first, &words, e)) return -1;
    for (size_t i = 0; i < words->n; i++)
        if (bpe_word(t, c, words->text.p + words->w[i].off, words->w[i].len, out, e)) return -1;
    return 0;
}

static int encode_piece(bone_tokenizer *t, ctx *c, const char *s, size_t n, int first, tok_ids *out, bone_err *e) {
    const char *ns = NULL;
    size_t nn = 0;
    if (normalize(t, c, s, n, &ns, &nn, e)) return -1;
    if (!t->any_normalized_added) return encode_normalized(t, c, ns, nn, first, out, e);
    /* the normalized text lives in c->n1, which pre-tokenization reuses: copy it */
    char *copy = xmalloc(nn + 1);
    memcpy(copy, ns, nn);
    size_t pos = 0, ms, me;
    int32_t id;
    int rc = 0;
    while (!rc && find_added(t, copy, nn, pos, pos, 1, &ms, &me, &id)) {
        if (ms > pos) rc = encode_normalized(t, c, copy + pos, ms - pos, first && pos == 0, out, e);
        tok_ids_add(out, id);
        pos = me;
    }
    if (!rc && pos < nn) rc = encode_normalized(t, c, copy + pos, nn - pos, first && pos == 0, out, e);
    free(copy);
    return rc;
}

/* ---- llama2.c ---------------------------------------------------------------------------- */
static int encode_llama2c(bone_tokenizer *t, ctx *c, const char *s, size_t n, int add_special, tok_ids *out,
                          bone_err *e) {
    if (add_special) tok_ids_add(out, 1);
    if (!n) return 0;
    size_t ns = 0;
    int32_t sp = tok_smap_get(&t->vocab, " ", 1);
    if (sp < 0) return bone_fail(e, "%s: no \" \" piece for the dummy prefix", t->path);
    sym_push(c, &ns, sp);
    for (size_t i = 0; i < n;) {
        size_t k = tok_u8len((unsigned char)s[i]);
        int32_t id = tok_smap_get(&t->vocab, s + i, k);
        if (id >= 0) sym_push(c, &ns, id);
        else
            for (size_t j = 0; j < k; j++) sym_push(c, &ns, (int32_t)(unsigned char)s[i + j] + 3);
        i += k;
    }
    merge_all(t, c, ns, out);
    return 0;
}

/* ---- entry point ------------------------------------------------------------------------- */
int bone_tokenizer_encode(bone_tokenizer *t, const char *text, size_t n, int add_special, int32_t **ids,
                          size_t *nids, bone_err *e) {
    *ids = NULL;
    *nids = 0;
    size_t bad = bone_utf8_check(text, n);
    if (bad != n) return bone_fail(e, "invalid UTF-8 at byte offset %zu", bad);
    ctx c = {0};
    tok_ids body = {0}, out = {0};
    int rc = 0;
    if (t->kind == TOK_KIND_LLAMA2C) {
        rc = encode_llama2c(t, &c, text, n, add_special, &out, e);
    } else if (t->kind == TOK_KIND_RWKV) {
        tok_rwkv_encode(t, text, n, &out); /* no post-processor: the World models add no BOS */
    } else {
        size_t pos = 0, ms, me;
        int32_t id;
        while (!rc && find_added(t, text, n, pos, pos, 0, &ms, &me, &id)) {
            if (ms > pos) rc = encode_piece(t, &c, text + pos, ms - pos, pos == 0, &body, e);
            tok_ids_add(&body, id);
            pos = me;
        }
        if (!rc && pos < n) rc = encode_piece(t, &c, text + pos, n - pos, pos == 0, &body, e);
        if (!rc) {
            if (add_special && t->has_post) {
                for (size_t i = 0; i < t->npost; i++) {
                    if (t->post[i].is_seq) tok_ids_addn(&out, body.p, body.n);
                    else tok_ids_addn(&out, t->post[i].ids, t->post[i].nids);
                }
            } else {
                out = body;
                body = (tok_ids){0};
            }
        }
    }
    ctx_free(&c);
    free(body.p);
    if (rc) {
        free(out.p);
        return -1;
    }
    if (!out.p) out.p = xmalloc(sizeof(int32_t));
    *ids = out.p;
    *nids = out.n;
    return 0;
}
