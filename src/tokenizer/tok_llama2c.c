/* tok_llama2c.c — a bone_tokenizer from a llama2.c tokenizer.bin (FORMATS.md §3.3/3.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/tok_internal.h"

/* ---- llama2.c tokenizer.bin --------------------------------------------------------------- */
typedef struct { float s; int32_t id; } score_id;
static int cmp_score(const void *a, const void *b) {
    const score_id *x = a, *y = b;
    return x->s > y->s ? -1 : x->s < y->s ? 1 : 0;
}

bone_tokenizer *bone_tokenizer_load_llama2c(const char *path, int64_t vocab_size, bone_err *e) {
    char *buf;
    size_t n;
    if (bone_read_regular_file(path, &buf, &n, e)) return NULL;
    if (n < 4) {
        free(buf);
        bone_fail(e, "%s: too short for a llama2.c tokenizer.bin", path);
        return NULL;
    }
    bone_tokenizer *t = tok_new(path);
    t->kind = TOK_KIND_LLAMA2C;
    memcpy(&t->max_token_length, buf, 4);
    /* count entries */
    int64_t count = 0;
    size_t off = 4;
    while (off < n && (vocab_size <= 0 || count < vocab_size)) {
        int32_t len;
        if (off + 8 > n) { bone_fail(e, "%s: truncated entry %lld at byte %zu", path, (long long)count, off); goto fail; }
        memcpy(&len, buf + off + 4, 4);
        if (len < 0 || (size_t)len > n - off - 8) {
            bone_fail(e, "%s: entry %lld at byte %zu has a bad length %d", path, (long long)count, off, len);
            goto fail;
        }
        off += 8 + (size_t)len;
        count++;
    }
    if (vocab_size > 0 && count < vocab_size) {
        bone_fail(e, "%s: holds %lld entries, the model needs %lld", path, (long long)count, (long long)vocab_size);
        goto fail;
    }
    if (count < 259) { bone_fail(e, "%s: only %lld entries (need <unk>, <s>, </s> and 256 byte pieces)", path, (long long)count); goto fail; }
    tok_alloc_vocab(t, count);
    score_id *sc = xmalloc(sizeof *sc * (size_t)count);
    off = 4;
    for (int64_t i = 0; i < count; i++) {
        float s;
        int32_t len;
        memcpy(&s, buf + off, 4);
        memcpy(&len, buf + off + 4, 4);
        tok_set_piece(t, (int32_t)i, buf + off + 8, (size_t)len);
        sc[i] = (score_id){s, (int32_t)i};
        off += 8 + (size_t)len;
    }
    /* later ids first, so a duplicate piece maps to its lowest id */
    for (int64_t i = count - 1; i >= 0; i--) tok_smap_put(&t->vocab, t->piece[i], t->piece_len[i], (int32_t)i);
    qsort(sc, (size_t)count, sizeof *sc, cmp_score);
    t->score_rank = xmalloc(sizeof(int32_t) * (size_t)count);
    int32_t r = 0;
    for (int64_t i = 0; i < count; i++) {
        if (i && sc[i].s != sc[i - 1].s) r++;
        t->score_rank[sc[i].id] = r;
    }
    free(sc);
    t->bos = 1;
    t->eos = 2;
    t->special[1] = t->special[2] = 1;
    t->has_post = 1;
    t->post = xcalloc(2, sizeof *t->post);
    t->post[0].ids = xmalloc(sizeof(int32_t));
    t->post[0].ids[0] = 1;
    t->post[0].nids = 1;
    t->post[1].is_seq = 1;
    t->npost = 2;
    t->lossless = 0;
    free(buf);
    return t;
fail:
    free(buf);
    bone_tokenizer_free(t);
    return NULL;
}
