/* generate.c — sampling and the generation loop (see generate.h). */
#include "model/generate.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"

void bone_gen_opts_default(bone_gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_new = 256;
    o->top_p = 1.0;
    o->add_special = 1;
}

typedef struct { float p; int32_t id; } cand;

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->id - y->id;
}

int32_t bone_sample(float *logits, int64_t V, double temperature, int64_t top_k, double top_p, uint64_t *state) {
    int32_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = (int32_t)i; /* first maximum: deterministic ties */
    if (temperature <= 0) return best;
    cand *c = xmalloc((size_t)V * sizeof *c);
    double mx = logits[best], sum = 0;
    for (int64_t i = 0; i < V; i++) {
        c[i].p = (float)exp(((double)logits[i] - mx) / temperature);
        c[i].id = (int32_t)i;
        sum += c[i].p;
    }
    qsort(c, (size_t)V, sizeof *c, cand_desc);
    int64_t keep = V;
    if (top_k > 0 && top_k < keep) keep = top_k;
    if (top_p < 1.0) { /* smallest prefix whose mass reaches top_p */
        double acc = 0;
        for (int64_t i = 0; i < keep; i++) {
            acc += c[i].p / sum;
            if (acc >= top_p) { keep = i + 1; break; }
        }
    }
    double tot = 0;
    for (int64_t i = 0; i < keep; i++) tot += c[i].p;
    bone_rng r = {*state};
    double u = bone_rng_uniform(&r) * tot;
    *state = r.s;
    int32_t pick = c[keep - 1].id;
    double acc = 0;
    for (int64_t i = 0; i < keep; i++) {
        acc += c[i].p;
        if (u < acc) { pick = c[i].id; break; }
    }
    free(c);
    return pick;
}

/* The continuation's text so far and how much of it went out. Text that could be the start of
 * a stop string is held back, so what is streamed never contains any part of a stop string. */
typedef struct {
    char *p;
    size_t n, cap, printed, scanned, cut; /* cut: where the first stop string starts, or NO_CUT */
} gen_text;
#define NO_CUT ((size_t)-1)

/* appends s; looks for stop strings in the new part (and the maxstop-1 bytes before it); streams
 * what is final. Returns 1 once a stop string was found. */
static int gen_text_add(gen_text *g, const char *s, size_t n, const char *const *stop, int final,
                        void (*on_text)(const char *, size_t, void *), void *ctx) {
    if (g->n + n + 1 > g->cap) {
        g->cap = (g->n + n + 1) * 2;
        g->p = xrealloc(g->p, g->cap);
    }
    memcpy(g->p + g->n, s, n);
    g->n += n;
    g->p[g->n] = 0;
    size_t hold = 0;
    for (int k = 0; stop && stop[k]; k++) {
        size_t ls = strlen(stop[k]);
        size_t from = g->scanned >= ls ? g->scanned - (ls - 1) : 0;
        const char *hit = g->n >= from + ls ? memmem(g->p + from, g->n - from, stop[k], ls) : NULL;
        if (hit && (size_t)(hit - g->p) < g->cut) g->cut = (size_t)(hit - g->p);
        /* the longest end of the text that a later piece could complete into this stop string */
        for (size_t h = ls - 1 < g->n ? ls - 1 : g->n; !final && h > hold; h--)
            if (!memcmp(g->p + g->n - h, stop[k], h)) { hold = h; break; }
    }
    g->scanned = g->n;
    size_t upto = g->cut != NO_CUT ? g->cut : g->n - hold;
    if (upto > g->printed) {
        if (on_text) on_text(g->p + g->printed, upto - g->printed, ctx);
        g->printed = upto;
    }
    return g->cut != NO_CUT;
}

int bone_generate(bone_model *m, bone_tokenizer *tok, const char *prompt, const bone_gen_opts *o,
                  void (*on_text)(const char *s, size_t n, void *ctx), void *ctx, char **out, int64_t *ntok,
                  bone_err *e) {
    int32_t *pids = NULL;
    size_t np = 0;
    if (bone_tokenizer_encode(tok, prompt, strlen(prompt), o->add_special, &pids, &np, e))
        return bone_wrap(e, "the prompt");
    if (np == 0) {
        /* unconditional generation (an empty prompt, with no BOS added): start from BOS, or from
         * the end-of-text token when there is no BOS (GPT-2 style: <|endoftext|> separates
         * documents), as Hugging Face generate does */
        int32_t start = bone_tokenizer_bos(tok) >= 0 ? bone_tokenizer_bos(tok) : bone_tokenizer_eos(tok);
        if (start < 0) {
            free(pids);
            return bone_fail(e, "the prompt is empty and the tokenizer has neither a BOS nor an end-of-text token to "
                                "start from; give a non-empty --prompt");
        }
        pids = xrealloc(pids, sizeof *pids);
        pids[0] = start;
        np = 1;
    }
    /* compare before adding: np + max_new may not fit in 64 bits (--max-new 9223372036854775807) */
    int64_t cap = o->max_new > m->cfg.max_pos - (int64_t)np ? m->cfg.max_pos : (int64_t)np + o->max_new;
    if ((int64_t)np >= cap) {
        free(pids);
        return bone_fail(e, "the prompt has %zu tokens; the model allows %lld positions", np, (long long)m->cfg.max_pos);
    }
    bone_kv kv;
    bone_kv_init(&kv, m, cap);
    int64_t V = m->cfg.vocab;
    float *logits = xmalloc((size_t)V * sizeof(float));
    int64_t ng = 0;
    int32_t eos = bone_tokenizer_eos(tok);
    int32_t eos2 = (int32_t)m->cfg.eos;
    uint64_t state = o->seed * 0x9e3779b97f4a7c15ull + 1;
    /* the continuation is decoded in the prompt's context (a SentencePiece decoder would strip
     * the leading space of a text's first word), a bounded window per token */
    bone_decode_stream *ds = bone_decode_stream_new(tok, pids, np);
    gen_text g = {.cut = NO_CUT};
    const char *piece;
    size_t pl;
    int stopped = 0;
    int rc = bone_model_decode(m, &kv, pids, (int64_t)np, logits, e);
    while (rc == 0 && ng < o->max_new && kv.n < cap) {
        int32_t id = bone_sample(logits, V, o->temperature, o->top_k, o->top_p, &state);
        if (id == eos || id == eos2) break;
        ng++;
        if ((rc = bone_decode_stream_push(ds, id, &piece, &pl, e))) break;
        if ((stopped = gen_text_add(&g, piece, pl, o->stop, 0, on_text, ctx))) break;
        if (kv.n >= cap) break;
        rc = bone_model_decode(m, &kv, &id, 1, logits, e);
    }
    if (rc == 0 && !stopped) rc = bone_decode_stream_flush(ds, &piece, &pl, e);
    if (rc == 0 && !stopped) gen_text_add(&g, piece, pl, o->stop, 1, on_text, ctx);
    if (rc == 0) {
        gen_text_add(&g, "", 0, NULL, 1, NULL, NULL); /* a buffer even when nothing was generated */
        if (g.cut != NO_CUT) g.p[g.cut] = 0;
        *out = g.p;
        g.p = NULL;
        if (ntok) *ntok = ng;
    }
    free(g.p);
    bone_decode_stream_free(ds);
    free(logits);
    free(pids);
    bone_kv_free(&kv);
    return rc;
}
