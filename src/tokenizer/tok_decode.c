/* tok_decode.c — ids → text through the decoder chain (FORMATS.md §4.8: Replace, ByteFallback,
 * Fuse, Strip, ByteLevel, Metaspace), transformers' clean_up_tokenization_spaces, and the
 * llama2.c decoder (§3.4). */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"

typedef struct strs {
    tok_buf *v;
    size_t n, cap;
} strs;

static tok_buf *strs_push(strs *s) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n] = (tok_buf){0};
    tok_buf_add(&s->v[s->n], "", 0);
    return &s->v[s->n++];
}
static void strs_free(strs *s) {
    for (size_t i = 0; i < s->n; i++) tok_buf_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static const char REPL[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
/* "<0xHH>" → byte, else -1 */
static int byte_piece(const char *p, size_t n) {
    if (n != 6 || memcmp(p, "<0x", 3) || p[5] != '>') return -1;
    int h = hexval(p[3]), l = hexval(p[4]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

static void apply(const bone_tokenizer *t, const tok_dec *d, strs *in, strs *out) {
    switch (d->type) {
    case DEC_REPLACE: {
        size_t la = strlen(d->a), lb = strlen(d->b);
        for (size_t i = 0; i < in->n; i++) {
            tok_buf *o = strs_push(out);
            const tok_buf *s = &in->v[i];
            for (size_t j = 0; j < s->n;) {
                if (j + la <= s->n && !memcmp(s->p + j, d->a, la)) { tok_buf_add(o, d->b, lb); j += la; }
                else tok_buf_addc(o, s->p[j++]);
            }
        }
        break;
    }
    case DEC_BYTEFALLBACK: {
        tok_buf run = {0};
        for (size_t i = 0; i <= in->n; i++) {
            int b = i < in->n ? byte_piece(in->v[i].p, in->v[i].n) : -1;
            if (b >= 0) { tok_buf_addc(&run, (char)b); continue; }
            if (run.n) {
                tok_buf chk = {0};
                tok_utf8_lossy(&chk, run.p, run.n);
                if (chk.n == run.n && !memcmp(chk.p, run.p, run.n)) tok_buf_add(strs_push(out), run.p, run.n);
                else /* one U+FFFD token per byte */
                    for (size_t k = 0; k < run.n; k++) tok_buf_add(strs_push(out), REPL, 3);
                tok_buf_free(&chk);
                run.n = 0;
            }
            if (i < in->n) tok_buf_add(strs_push(out), in->v[i].p, in->v[i].n);
        }
        tok_buf_free(&run);
        break;
    }
    case DEC_FUSE: {
        tok_buf *o = strs_push(out);
        for (size_t i = 0; i < in->n; i++) tok_buf_add(o, in->v[i].p, in->v[i].n);
        break;
    }
    case DEC_STRIP: {
        size_t lc = strlen(d->a);
        for (size_t i = 0; i < in->n; i++) {
            const tok_buf *s = &in->v[i];
            size_t a = 0, b = s->n;
            for (int64_t k = 0; k < d->start && a + lc <= b && !memcmp(s->p + a, d->a, lc); k++) a += lc;
            for (int64_t k = 0; k < d->stop && b >= a + lc && !memcmp(s->p + b - lc, d->a, lc); k++) b -= lc;
            tok_buf_add(strs_push(out), s->p + a, b - a);
        }
        break;
    }
    case DEC_BYTELEVEL: {
        tok_buf bytes = {0};
        for (size_t i = 0; i < in->n; i++) {
            const tok_buf *s = &in->v[i];
            size_t mark = bytes.n;
            int ok = 1;
            for (size_t j = 0; j < s->n;) {
                uint32_t cp;
                j += tok_u8dec(s->p + j, &cp);
                int b = tok_bytelevel_cp_to_byte(cp);
                if (b < 0) { ok = 0; break; }
                tok_buf_addc(&bytes, (char)b);
            }
            if (!ok) {
                bytes.n = mark;
                tok_buf_add(&bytes, s->p, s->n);
            }
        }
        tok_buf *o = strs_push(out);
        tok_utf8_lossy(o, bytes.p ? bytes.p : "", bytes.n);
        tok_buf_free(&bytes);
        break;
    }
    case DEC_METASPACE: {
        size_t lr = strlen(d->a);
        for (size_t i = 0; i < in->n; i++) {
            const tok_buf *s = &in->v[i];
            tok_buf *o = strs_push(out);
            for (size_t j = 0; j < s->n;) {
                if (j + lr <= s->n && !memcmp(s->p + j, d->a, lr)) {
                    /* as HF does: every replacement in the first token is dropped unless "never" */
                    if (!(i == 0 && d->scheme != PREPEND_NEVER)) tok_buf_addc(o, ' ');
                    j += lr;
                } else tok_buf_addc(o, s->p[j++]);
            }
        }
        break;
    }
    }
    (void)t;
}

/* transformers' clean_up_tokenization */
static void cleanup(tok_buf *b) {
    static const char *from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
    static const char *to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    for (int r = 0; r < 10; r++) {
        size_t lf = strlen(from[r]), lt = strlen(to[r]);
        tok_buf o = {0};
        for (size_t j = 0; j < b->n;) {
            if (j + lf <= b->n && !memcmp(b->p + j, from[r], lf)) { tok_buf_add(&o, to[r], lt); j += lf; }
            else tok_buf_addc(&o, b->p[j++]);
        }
        if (!o.p) tok_buf_add(&o, "", 0);
        tok_buf_free(b);
        *b = o;
    }
}

int bone_tokenizer_decode(const bone_tokenizer *t, const int32_t *ids, size_t n, unsigned flags, char **out,
                          size_t *len, bone_err *e) {
    *out = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->nvocab || !t->piece[ids[i]])
            return bone_fail(e, "decode: token id %d (position %zu) is not in the vocabulary (size %lld)", ids[i], i,
                             (long long)t->nvocab);
    tok_buf res = {0};
    tok_buf_add(&res, "", 0);
    if (t->kind == TOK_KIND_RWKV) {
        /* byte concatenation; invalid UTF-8 (a character cut between ids) becomes U+FFFD as in a
         * byte-level BPE decoder, so the text is always UTF-8 and the stream holds partial ones */
        tok_buf raw = {0};
        for (size_t i = 0; i < n; i++) {
            if ((flags & BONE_DECODE_SKIP_SPECIAL) && t->special[ids[i]]) continue;
            tok_buf_add(&raw, t->piece[ids[i]], t->piece_len[ids[i]]);
        }
        tok_utf8_lossy(&res, raw.p ? raw.p : "", raw.n);
        tok_buf_free(&raw);
    } else if (t->kind == TOK_KIND_LLAMA2C) {
        for (size_t i = 0; i < n; i++) {
            if ((flags & BONE_DECODE_SKIP_SPECIAL) && t->special[ids[i]]) continue;
            const char *p = t->piece[ids[i]];
            size_t pl = t->piece_len[ids[i]];
            if (i > 0 && ids[i - 1] == 1 && pl && p[0] == ' ') { p++; pl--; }
            int b = byte_piece(p, pl);
            if (b >= 0) tok_buf_addc(&res, (char)b);
            else tok_buf_add(&res, p, pl);
        }
    } else {
        strs a = {0}, b = {0};
        for (size_t i = 0; i < n; i++) {
            if ((flags & BONE_DECODE_SKIP_SPECIAL) && t->special[ids[i]]) continue;
            tok_buf_add(strs_push(&a), t->piece[ids[i]], t->piece_len[ids[i]]);
        }
        if (t->has_decoder) {
            for (size_t k = 0; k < t->ndec; k++) {
                apply(t, &t->dec[k], &a, &b);
                strs tmp = a; a = b; b = tmp;
                strs_free(&b);
            }
            for (size_t i = 0; i < a.n; i++) tok_buf_add(&res, a.v[i].p, a.v[i].n);
        } else {
            for (size_t i = 0; i < a.n; i++) {
                if (i) tok_buf_addc(&res, ' ');
                tok_buf_add(&res, a.v[i].p, a.v[i].n);
            }
        }
        strs_free(&a);
        strs_free(&b);
    }
    if (flags & BONE_DECODE_CLEANUP) cleanup(&res);
    *out = res.p;
    *len = res.n;
    return 0;
}

/* ---- streaming ------------------------------------------------------------------------------
 * Decoders are local except at three places, which the window is chosen to keep exact:
 *   - the first piece of a decode is special (Metaspace drops its ▁, Strip its leading space,
 *     llama2.c drops a space after BOS), so the window always keeps STREAM_CTX earlier
 *     non-special ids (and the special id just before, for llama2.c's after-BOS rule);
 *   - ByteFallback checks a whole run of <0xHH> pieces for valid UTF-8, so the window never
 *     starts on a continuation byte (it backs up to the lead byte);
 *   - the text of unfinished characters (U+FFFD, a partial UTF-8 sequence at the end) changes
 *     when the rest arrives, so pending ids are held until their text is stable and extends the
 *     window's text. Skipped special ids add no text: of a run of them only the last is kept. */
#define STREAM_CTX 4     /* non-special ids of context */
#define STREAM_HOLD 16   /* pending ids after which text is handed out even if not stable */

struct bone_decode_stream {
    const bone_tokenizer *t;
    int32_t *win; /* context ids (compressed as above), then the pending ids */
    size_t nctx, npend, cap;
    char *pre; /* decode(context), NULL until needed */
    size_t prelen;
    char *out; /* the text handed out by the last call */
    size_t work;
};

static int is_cont_byte_piece(const bone_tokenizer *t, int32_t id) {
    int b = byte_piece(t->piece[id], t->piece_len[id]);
    return b >= 0x80 && b < 0xc0;
}

/* appends id to the context and trims its front */
static void ctx_add(bone_decode_stream *s, int32_t id) {
    const bone_tokenizer *t = s->t;
    if (s->nctx && t->special[id] && t->special[s->win[s->nctx - 1]]) s->win[s->nctx - 1] = id;
    else s->win[s->nctx++] = id;
    BONE_ASSERT(s->nctx + STREAM_HOLD <= s->cap, "decode stream window overflow");
    size_t keep = 0, st = s->nctx;
    while (st > 0 && keep < STREAM_CTX) keep += !t->special[s->win[--st]];
    if (st > 0 && t->special[s->win[st - 1]]) st--; /* the special id just before */
    for (int k = 0; k < 4 && st > 0 && is_cont_byte_piece(t, s->win[st]); k++) st--;
    if (st) {
        memmove(s->win, s->win + st, (s->nctx - st) * sizeof *s->win);
        s->nctx -= st;
    }
}

bone_decode_stream *bone_decode_stream_new(const bone_tokenizer *t, const int32_t *ctx, size_t n) {
    bone_decode_stream *s = xcalloc(1, sizeof *s);
    s->t = t;
    s->cap = 2 * STREAM_CTX + 8 + STREAM_HOLD + 2;
    s->win = xmalloc(s->cap * sizeof *s->win);
    for (size_t i = 0; i < n; i++)
        if (ctx[i] >= 0 && ctx[i] < t->nvocab && t->piece[ctx[i]]) ctx_add(s, ctx[i]);
    return s;
}

void bone_decode_stream_free(bone_decode_stream *s) {
    if (!s) return;
    free(s->win);
    free(s->pre);
    free(s->out);
    free(s);
}

size_t bone_decode_stream_last_work(const bone_decode_stream *s) { return s->work; }

/* ends in U+FFFD or in an incomplete UTF-8 sequence: the text may still change */
static int unstable(const char *p, size_t n) {
    if (n >= 3 && !memcmp(p + n - 3, REPL, 3)) return 1;
    size_t i = n, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)p[i - 1] & 0xc0) == 0x80) { i--; back++; }
    if (i == 0) return 0;
    unsigned char lead = (unsigned char)p[i - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    return back + 1 < need;
}

/* decodes the window; hands out its new text when stable (or when forced) */
static int stream_step(bone_decode_stream *s, int force, const char **text, size_t *len, bone_err *e) {
    free(s->out);
    s->out = NULL;
    *text = "";
    *len = 0;
    s->work = 0;
    if (!s->npend) return 0;
    if (!s->pre) {
        if (bone_tokenizer_decode(s->t, s->win, s->nctx, BONE_DECODE_SKIP_SPECIAL, &s->pre, &s->prelen, e)) return -1;
        s->work += s->nctx;
    }
    char *full;
    size_t flen;
    if (bone_tokenizer_decode(s->t, s->win, s->nctx + s->npend, BONE_DECODE_SKIP_SPECIAL, &full, &flen, e)) return -1;
    s->work += s->nctx + s->npend;
    int extends = flen >= s->prelen && !memcmp(full, s->pre, s->prelen);
    if (!force && s->npend < STREAM_HOLD && (!extends || unstable(full + s->prelen, flen - s->prelen))) {
        free(full);
        return 0;
    }
    size_t from = 0; /* forced with a changed context text: hand out what follows the common part */
    if (extends) from = s->prelen;
    else while (from < flen && from < s->prelen && full[from] == s->pre[from]) from++;
    memmove(full, full + from, flen - from + 1);
    s->out = full;
    *text = full;
    *len = flen - from;
    int32_t moved[STREAM_HOLD];
    size_t np = s->npend;
    memcpy(moved, s->win + s->nctx, np * sizeof *moved);
    s->npend = 0;
    for (size_t i = 0; i < np; i++) ctx_add(s, moved[i]);
    free(s->pre);
    s->pre = NULL;
    return 0;
}

int bone_decode_stream_push(bone_decode_stream *s, int32_t id, const char **text, size_t *len, bone_err *e) {
    *text = "";
    *len = 0;
    if (id < 0 || id >= s->t->nvocab || !s->t->piece[id])
        return bone_fail(e, "decode: token id %d is not in the vocabulary (size %lld)", id, (long long)s->t->nvocab);
    s->win[s->nctx + s->npend++] = id;
    return stream_step(s, 0, text, len, e);
}

int bone_decode_stream_flush(bone_decode_stream *s, const char **text, size_t *len, bone_err *e) {
    return stream_step(s, 1, text, len, e);
}
