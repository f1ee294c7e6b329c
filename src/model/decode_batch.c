/* decode_batch.c — batched generation for evaluation (see generate_batch.h).
 *
 * Each sequence has its own KV cache (bone_kv) and its own length. The prompts are run
 * together (their tokens concatenated, no padding: rows of different sequences never meet),
 * then every step decodes one new token for all sequences still running in one pass: the
 * projections (and, for a bf16 model, the weight conversion) see a (rows, ·) matrix instead of
 * one vector at a time, which is where the speed comes from; RoPE, the cache append and
 * attention are per sequence, at its own positions. The arithmetic of every row is exactly that
 * of bone_model_decode on its sequence alone (the same op calls in the same order; the
 * attention loop below mirrors decode.c's), and the sampling, EOS, --max-new, position cap and stop-string
 * rules are those of bone_generate, so each result is identical to generating that prompt
 * alone (tests/model/test_decode_batch.c checks it). The batched pass below is the Llama family's
 * decoder; a family with its own decoder (RWKV-6's recurrent state, arch.h `decode`) prefills
 * each prompt through bone_model_decode and steps all running sequences together through its
 * `decode_many` (decode_each), with the same sampling and stop rules. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "model/arch.h"
#include "model/generate_batch.h"
#include "ops/ops.h"

/* One running sequence. */
typedef struct {
    bone_kv kv;
    int64_t cap, ng;        /* positions allowed, tokens generated */
    uint64_t rng;           /* sampling state, as bone_generate seeds it */
    int32_t next;           /* token to decode at the next step */
    int running;
    bone_decode_stream *ds;
    char *text;             /* decoded continuation */
    size_t n, tcap, scanned;
    size_t cut;             /* where the first stop string starts, or NO_CUT */
} bseq;
#define NO_CUT ((size_t)-1)

/* appends decoded text and looks for the stop strings in what is new (and the len-1 bytes
 * before it); returns 1 once one was found */
static int bseq_add(bseq *s, const char *p, size_t n, const char *const *stop) {
    if (s->n + n + 1 > s->tcap) {
        s->tcap = (s->n + n + 1) * 2;
        s->text = xrealloc(s->text, s->tcap);
    }
    memcpy(s->text + s->n, p, n);
    s->n += n;
    s->text[s->n] = 0;
    for (int k = 0; stop && stop[k]; k++) {
        size_t ls = strlen(stop[k]);
        size_t from = s->scanned >= ls ? s->scanned - (ls - 1) : 0;
        const char *hit = s->n >= from + ls ? memmem(s->text + from, s->n - from, stop[k], ls) : NULL;
        if (hit && (size_t)(hit - s->text) < s->cut) s->cut = (size_t)(hit - s->text);
    }
    s->scanned = s->n;
    return s->cut != NO_CUT;
}

/* Scratch for one batched step of B rows. */
typedef struct {
    float *x, *xn, *rs, *q, *kn, *vn, *att, *tmp, *g, *u;
    float *sc;       // (threads, sccap) attention scores, one row per OpenMP thread
    int64_t sccap;   // the longest sequence's positions
    const bone_kv **rowkv; // (rows) the cache of each row's sequence
    int64_t *rowP;         // (rows) positions each row attends
} bscratch;

/* cnt[b] new tokens (cnt NULL: one each) for each of the B sequences S[idx[0..B)], their ids
 * concatenated in ids (R rows in all), at each sequence's next positions; logits (B, V) of each
 * sequence's last new token. Per row, the same operations as bone_model_decode on that
 * sequence alone (a prompt: its n rows; a step: n = 1). */
static void decode_rows(bone_model *m, bseq *S, const int64_t *idx, const int64_t *cnt, int64_t B, const int32_t *ids,
                        int64_t R, bscratch *w, float *logits, const float *W) {
    const bone_config *c = &m->cfg;
    const int64_t H = c->hidden, F = c->inter, V = c->vocab, L = c->n_layers;
    const int64_t nh = c->n_heads, nkv = c->n_kv, d = c->head_dim, qd = nh * d, kd = nkv * d, group = nh / nkv;
    bone_lin_ctx *lc = &m->lin;
    lc->training = 0;
    embedding_forward(w->x, m->embed, ids, R, H);
    /* each row's cache and how many positions it attends (its sequence's filled ones up to and
     * including itself; kv->n moves only after the last layer) */
    for (int64_t bs = 0, b = 0; bs < B; bs++)
        for (int64_t i = 0; i < (cnt ? cnt[bs] : 1); i++, b++) {
            w->rowkv[b] = &S[idx[bs]].kv;
            w->rowP[b] = S[idx[bs]].kv.n + i + 1;
        }
    for (int64_t l = 0; l < L; l++) {
        bone_layer *ly = &m->layers[l];
        rmsnorm_forward(w->xn, w->rs, w->x, ly->ln1, R, H, (float)c->eps);
        linear_forward(lc, &ly->proj[BONE_Q], w->xn, w->q, R);   // (R, qd)
        linear_forward(lc, &ly->proj[BONE_K], w->xn, w->kn, R);  // (R, kd)
        linear_forward(lc, &ly->proj[BONE_V], w->xn, w->vn, R);  // (R, kd)
        const float scale = 1.0f / sqrtf((float)d);
        for (int64_t bs = 0, row0 = 0; bs < B; row0 += cnt ? cnt[bs] : 1, bs++) {
            bseq *s = &S[idx[bs]];
            bone_kv *kv = &s->kv;
            const int64_t n = cnt ? cnt[bs] : 1, p00 = kv->n;
            float *Kc = kv->k + l * kv->cap * kd, *Vc = kv->v + l * kv->cap * kd; // (cap, kd)
            for (int64_t i = 0; i < n; i++) { /* RoPE at absolute positions, then the cache append */
                int64_t b = row0 + i, p0 = p00 + i;
                bone_rope one = {1, kv->rope.half, kv->rope.cos + p0 * kv->rope.half, kv->rope.sin + p0 * kv->rope.half};
                rope_forward(w->q + b * qd, &one, 1, 1, nh, d);
                rope_forward(w->kn + b * kd, &one, 1, 1, nkv, d);
                memcpy(Kc + p0 * kd, w->kn + b * kd, (size_t)kd * sizeof(float));
                memcpy(Vc + p0 * kd, w->vn + b * kd, (size_t)kd * sizeof(float));
            }
        }
        /* causal attention of every row over its sequence's positions 0..p, as decode.c does; the
         * (row, head) pairs are independent (each writes its own slice of att, with its thread's
         * scores), so they run in parallel and the result does not depend on the thread count */
#pragma omp parallel
        {
            float *sc = w->sc + (size_t)omp_get_thread_num() * (size_t)w->sccap;
#pragma omp for schedule(dynamic, 4)
            for (int64_t rh = 0; rh < R * nh; rh++) {
                const int64_t b = rh / nh, h = rh % nh, P = w->rowP[b];
                const bone_kv *kv = w->rowkv[b];
                const float *Kc = kv->k + l * kv->cap * kd, *Vc = kv->v + l * kv->cap * kd;
                const int64_t kh = h / group;
                attention_cached_head(w->att + b * qd + h * d, w->q + b * qd + h * d, Kc + kh * d, Vc + kh * d, P, kd,
                                      d, scale, sc);
            }
        }
        linear_forward(lc, &ly->proj[BONE_O], w->att, w->tmp, R);
        for (int64_t i = 0; i < R * H; i++) w->x[i] += w->tmp[i];
        rmsnorm_forward(w->xn, w->rs, w->x, ly->ln2, R, H, (float)c->eps);
        linear_forward(lc, &ly->proj[BONE_GATE], w->xn, w->g, R);
        linear_forward(lc, &ly->proj[BONE_UP], w->xn, w->u, R);
        swiglu_forward(w->g, w->g, w->u, R * F);
        linear_forward(lc, &ly->proj[BONE_DOWN], w->g, w->tmp, R);
        for (int64_t i = 0; i < R * H; i++) w->x[i] += w->tmp[i];
    }
    /* each sequence's last row, gathered (B, H), then the final norm and the lm_head */
    for (int64_t bs = 0, row = 0; bs < B; bs++) {
        int64_t n = cnt ? cnt[bs] : 1;
        row += n;
        S[idx[bs]].kv.n += n;
        memmove(w->x + bs * H, w->x + (row - 1) * H, (size_t)H * sizeof(float));
    }
    rmsnorm_forward(w->xn, w->rs, w->x, m->norm, B, H, (float)c->eps);
    gemm_nt(B, V, H, 1.0f, w->xn, H, W, H, 0.0f, logits, V); // (B, V)
}

/* Samples the next token of s from its logits and applies bone_generate's rules; returns -1 on
 * a decoder error. */
static int bseq_take(bseq *s, float *logits, int64_t V, const bone_gen_opts *o, int32_t eos, int32_t eos2, bone_err *e) {
    int32_t id = bone_sample(logits, V, o->temperature, o->top_k, o->top_p, &s->rng);
    if (id == eos || id == eos2) { s->running = 0; return 0; }
    s->ng++;
    const char *piece;
    size_t pl;
    if (bone_decode_stream_push(s->ds, id, &piece, &pl, e)) return -1;
    if (bseq_add(s, piece, pl, o->stop)) { s->running = 0; return 0; }
    if (s->ng >= o->max_new || s->kv.n >= s->cap) { s->running = 0; return 0; }
    s->next = id;
    return 0;
}

/* rows of one prefill pass (prompts are grouped up to this many tokens) */
#define PREFILL_ROWS 2048

/* A family with its own decoder: a prompt step (cnt) runs each sequence's cnt[b] tokens
 * through bone_model_decode on its own state; a one-token step (cnt NULL) goes through the
 * family's decode_many when it has one; logits (B, V) as decode_rows gives them. */
static int decode_each(bone_model *m, bseq *S, const int64_t *idx, const int64_t *cnt, int64_t B, const int32_t *ids,
                       float *logits, bone_err *e) {
    const int64_t V = m->cfg.vocab;
    const bone_arch_i *ai = bone_arch_cfg(&m->cfg);
    if (!cnt && ai->decode_many) {
        bone_kv **kv = xmalloc((size_t)B * sizeof *kv);
        for (int64_t b = 0; b < B; b++) kv[b] = &S[idx[b]].kv;
        int rc = ai->decode_many(m, kv, ids, B, logits, e);
        free(kv);
        return rc;
    }
    for (int64_t b = 0, r = 0; b < B; b++) {
        const int64_t nb = cnt ? cnt[b] : 1;
        if (bone_model_decode(m, &S[idx[b]].kv, ids + r, nb, logits + b * V, e)) return -1;
        r += nb;
    }
    return 0;
}

static void scratch_alloc(bscratch *w, const bone_config *c, int64_t rows, int64_t maxcap) {
    const int64_t H = c->hidden, F = c->inter, qd = c->n_heads * c->head_dim, kd = c->n_kv * c->head_dim;
    size_t R = (size_t)rows;
    w->x = xmalloc(R * (size_t)H * sizeof(float));
    w->xn = xmalloc(R * (size_t)H * sizeof(float));
    w->rs = xmalloc(R * sizeof(float));
    w->q = xmalloc(R * (size_t)qd * sizeof(float));
    w->kn = xmalloc(R * (size_t)kd * sizeof(float));
    w->vn = xmalloc(R * (size_t)kd * sizeof(float));
    w->att = xmalloc(R * (size_t)qd * sizeof(float));
    w->tmp = xmalloc(R * (size_t)(H > F ? H : F) * sizeof(float));
    w->g = xmalloc(R * (size_t)F * sizeof(float));
    w->u = xmalloc(R * (size_t)F * sizeof(float));
    w->sccap = maxcap > 0 ? maxcap : 1;
    w->sc = xmalloc((size_t)omp_get_max_threads() * (size_t)w->sccap * sizeof(float));
    w->rowkv = xmalloc(R * sizeof *w->rowkv);
    w->rowP = xmalloc(R * sizeof *w->rowP);
}
static void scratch_free(bscratch *w) {
    free(w->x); free(w->xn); free(w->rs); free(w->q); free(w->kn); free(w->vn); free(w->att); free(w->tmp);
    free(w->g); free(w->u); free(w->sc); free((void *)w->rowkv); free(w->rowP);
}

int bone_generate_batch(bone_model *m, bone_tokenizer *tok, const char *const *prompts, int64_t n,
                        const bone_gen_opts *o, const uint64_t *seeds, char **outs, int64_t *ntok, bone_err *e) {
    const bone_config *c = &m->cfg;
    const int64_t H = c->hidden, V = c->vocab;
    const size_t n1 = (size_t)(n > 0 ? n : 1);
    bseq *S = xcalloc(n1, sizeof *S);
    int64_t *idx = xmalloc(n1 * sizeof *idx), *cnt = xmalloc(n1 * sizeof *cnt);
    int32_t *ids = xmalloc(n1 * sizeof *ids);
    int32_t **pids = xcalloc(n1, sizeof *pids);
    size_t *np = xcalloc(n1, sizeof *np);
    float *logits = xmalloc(n1 * (size_t)V * sizeof(float));
    int32_t eos = bone_tokenizer_eos(tok), eos2 = (int32_t)c->eos;
    int rc = 0;
    int64_t maxcap = 0, maxnp = 0;
    /* prompts: encoded and checked exactly as bone_generate does */
    for (int64_t i = 0; i < n && !rc; i++) {
        bseq *s = &S[i];
        s->cut = NO_CUT;
        if (bone_tokenizer_encode(tok, prompts[i], strlen(prompts[i]), o->add_special, &pids[i], &np[i], e)) {
            rc = bone_wrap(e, "prompt %lld", (long long)i);
            break;
        }
        if (np[i] == 0) {
            int32_t start = bone_tokenizer_bos(tok) >= 0 ? bone_tokenizer_bos(tok) : bone_tokenizer_eos(tok);
            if (start < 0) {
                rc = bone_fail(e, "prompt %lld is empty and the tokenizer has neither a BOS nor an end-of-text token",
                               (long long)i);
                break;
            }
            pids[i] = xrealloc(pids[i], sizeof **pids);
            pids[i][0] = start;
            np[i] = 1;
        }
        s->cap = o->max_new > c->max_pos - (int64_t)np[i] ? c->max_pos : (int64_t)np[i] + o->max_new;
        if ((int64_t)np[i] >= s->cap) {
            rc = bone_fail(e, "prompt %lld has %zu tokens; the model allows %lld positions", (long long)i, np[i],
                           (long long)c->max_pos);
            break;
        }
        for (size_t k = 0; k < np[i]; k++)
            if (pids[i][k] < 0 || pids[i][k] >= V) rc = bone_fail(e, "token id %d is outside the vocabulary", pids[i][k]);
        if (s->cap > maxcap) maxcap = s->cap;
        if ((int64_t)np[i] > maxnp) maxnp = (int64_t)np[i];
        bone_kv_init(&s->kv, m, s->cap);
        s->rng = (seeds ? seeds[i] : o->seed) * 0x9e3779b97f4a7c15ull + 1;
        s->ds = bone_decode_stream_new(tok, pids[i], np[i]);
        s->running = o->max_new > 0;
    }
    /* the lm_head as f32, once (decode.c converts it per call) */
    float *Wbuf = NULL;
    const float *W = NULL;
    bscratch w = {0};
    int64_t rows = maxnp > PREFILL_ROWS ? maxnp : PREFILL_ROWS;
    if (rows < n) rows = n;
    const int own = bone_arch_cfg(c)->decode != NULL;
    if (!rc && n > 0 && !own) {
        W = m->lm_head.dtype == BONE_F32 ? (const float *)m->lm_head.data
                                         : wref_f32(m->lm_head, Wbuf = xmalloc((size_t)(V * H) * sizeof(float)), V * H);
        scratch_alloc(&w, c, rows, maxcap);
    }
    /* prefill: groups of whole prompts, up to `rows` tokens a pass */
    for (int64_t i = 0; i < n && !rc;) {
        int64_t B = 0, R = 0;
        while (i < n && (B == 0 || R + (int64_t)np[i] <= rows)) {
            idx[B] = i;
            cnt[B] = (int64_t)np[i];
            R += (int64_t)np[i++];
            B++;
        }
        int32_t *cat = xmalloc((size_t)R * sizeof *cat);
        for (int64_t b = 0, r = 0; b < B; r += cnt[b], b++) memcpy(cat + r, pids[idx[b]], (size_t)cnt[b] * sizeof *cat);
        if (own) rc = decode_each(m, S, idx, cnt, B, cat, logits, e);
        else decode_rows(m, S, idx, cnt, B, cat, R, &w, logits, W);
        free(cat);
        for (int64_t b = 0; b < B && !rc; b++)
            if (S[idx[b]].running) rc = bseq_take(&S[idx[b]], logits + b * V, V, o, eos, eos2, e);
    }
    /* steps: every running sequence advances by one token */
    while (!rc) {
        int64_t B = 0;
        for (int64_t i = 0; i < n; i++)
            if (S[i].running) {
                idx[B] = i;
                ids[B++] = S[i].next;
            }
        if (!B) break;
        if (own) {
            if ((rc = decode_each(m, S, idx, NULL, B, ids, logits, e))) break;
        } else decode_rows(m, S, idx, NULL, B, ids, B, &w, logits, W);
        for (int64_t b = 0; b < B && !rc; b++) {
            bseq *s = &S[idx[b]];
            if (s->kv.n >= s->cap) s->running = 0; /* bone_generate's loop ends here without sampling */
            else rc = bseq_take(s, logits + b * V, V, o, eos, eos2, e);
        }
    }
    /* what the decoder holds back (an incomplete UTF-8 sequence) comes out at the end */
    for (int64_t i = 0; i < n && !rc; i++) {
        bseq *s = &S[i];
        if (s->cut == NO_CUT) {
            const char *piece;
            size_t pl;
            if ((rc = bone_decode_stream_flush(s->ds, &piece, &pl, e))) break;
            bseq_add(s, piece, pl, o->stop);
        }
        bseq_add(s, "", 0, NULL); /* a buffer even when nothing was generated */
        if (s->cut != NO_CUT) s->text[s->cut] = 0;
    }
    for (int64_t i = 0; i < n; i++) {
        if (!rc) {
            outs[i] = S[i].text;
            if (ntok) ntok[i] = S[i].ng;
        } else {
            free(S[i].text);
        }
        bone_decode_stream_free(S[i].ds);
        bone_kv_free(&S[i].kv); /* a KV cache or a recurrent state: both freed (NULL-safe) */
        free(pids[i]);
    }
    scratch_free(&w);
    free(Wbuf);
    free(logits);
    free(ids);
    free(idx);
    free(cnt);
    free(pids);
    free(np);
    free(S);
    return rc;
}
