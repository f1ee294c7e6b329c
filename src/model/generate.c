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

/* length of s without an incomplete UTF-8 sequence at its end */
static size_t complete_utf8(const char *s, size_t n) {
    size_t i = n, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) { i--; back++; }
    if (i == 0) return n;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    return (back + 1 < need) ? i - 1 : n;
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
    int32_t *gen = xmalloc((size_t)(cap + 1) * sizeof(int32_t));
    int64_t ng = 0;
    int32_t eos = bone_tokenizer_eos(tok);
    int32_t eos2 = (int32_t)m->cfg.eos;
    uint64_t state = o->seed * 0x9e3779b97f4a7c15ull + 1;
    char *text = NULL;
    size_t tlen = 0, printed = 0, cut = (size_t)-1;
    int rc = bone_model_decode(m, &kv, pids, (int64_t)np, logits, e);
    while (rc == 0 && ng < o->max_new && kv.n < cap) {
        int32_t id = bone_sample(logits, V, o->temperature, o->top_k, o->top_p, &state);
        if (id == eos || id == eos2) break;
        gen[ng++] = id;
        free(text);
        text = NULL;
        if ((rc = bone_tokenizer_decode(tok, gen, (size_t)ng, BONE_DECODE_SKIP_SPECIAL, &text, &tlen, e))) break;
        /* stop strings: cut the text before the first one found */
        for (int s = 0; o->stop && o->stop[s]; s++) {
            const char *hit = strstr(text, o->stop[s]);
            if (hit && (size_t)(hit - text) < cut) cut = (size_t)(hit - text);
        }
        size_t upto = cut != (size_t)-1 ? cut : complete_utf8(text, tlen);
        /* byte-fallback tokens of a character not yet complete decode to U+FFFD, which turns
         * into the real character when the rest arrives: hold trailing U+FFFD back */
        while (cut == (size_t)-1 && upto >= 3 && !memcmp(text + upto - 3, "\xEF\xBF\xBD", 3)) upto -= 3;
        if (on_text && upto > printed) on_text(text + printed, upto - printed, ctx);
        if (upto > printed) printed = upto;
        if (cut != (size_t)-1) break;
        if (kv.n >= cap) break;
        rc = bone_model_decode(m, &kv, &id, 1, logits, e);
    }
    if (rc == 0) {
        if (!text) text = calloc(1, 1);
        if (cut != (size_t)-1) text[cut] = 0;
        else if (on_text && tlen > printed) on_text(text + printed, tlen - printed, ctx);
        *out = text;
        text = NULL;
        if (ntok) *ntok = ng;
    }
    free(text);
    free(gen);
    free(logits);
    free(pids);
    bone_kv_free(&kv);
    return rc;
}
