/* tok_gpt2.c — a bone_tokenizer from GPT-2's vocab.json|encoder.json + merges.txt|vocab.bpe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/tok_internal.h"

/* ---- GPT-2 vocab.json + merges.txt -------------------------------------------------------- */

bone_tokenizer *tok_load_gpt2(const char *dir, const char *vpath, const char *mpath, bone_err *e) {
    cJSON *vocab = tok_load_big_object(vpath, e);
    if (!vocab) return NULL;
    bone_tokenizer *t = tok_new(vpath);
    char *text = NULL;
    size_t n;
    if (tok_load_vocab_obj(t, vocab, NULL, vpath, e)) goto fail;
    if (bone_read_file(mpath, &text, &n, e)) goto fail;
    {
        size_t i = 0, line = 0;
        int32_t rank = 0;
        while (i < n) {
            size_t j = i;
            while (j < n && text[j] != '\n') j++;
            line++;
            size_t end = j;
            if (end > i && text[end - 1] == '\r') end--;
            if (!(line == 1 && end - i >= 8 && !strncmp(text + i, "#version", 8)) && end > i) {
                const char *sp = memchr(text + i, ' ', end - i);
                if (!sp || memchr(sp + 1, ' ', (size_t)(text + end - sp - 1))) {
                    bone_fail(e, "%s:%zu: expected two tokens separated by one space", mpath, line);
                    goto fail;
                }
                if (tok_add_merge(t, text + i, (size_t)(sp - text - i), sp + 1, (size_t)(text + end - sp - 1), rank, mpath, e))
                    goto fail;
                rank++;
            }
            i = j + 1;
        }
    }
    /* GPT-2: ByteLevel(add_prefix_space=false, use_regex=true) pre-tokenizer and decoder. */
    t->pre = xcalloc(1, sizeof *t->pre);
    t->npre = 1;
    t->pre[0].type = PRE_BYTELEVEL;
    t->pre[0].re = tok_compile_regex(TOK_GPT2_RE, strlen(TOK_GPT2_RE), vpath, e);
    if (!t->pre[0].re) goto fail;
    t->byte_level = 1;
    t->dec = xcalloc(1, sizeof *t->dec);
    t->ndec = 1;
    t->dec[0].type = DEC_BYTELEVEL;
    t->has_decoder = 1;
    {
        int32_t eot = tok_smap_get(&t->vocab, "<|endoftext|>", 13);
        if (eot >= 0) {
            t->added = xcalloc(1, sizeof *t->added);
            t->added[0] = (tok_added){xstrdup("<|endoftext|>"), 13, eot, 0, 0, 0, 0, 1};
            t->nadded = 1;
            t->special[eot] = 1;
            t->bos = t->eos = eot;
        }
    }
    t->lossless = 1;
    t->clean_up = 0;
    if (tok_build_index(t, e)) goto fail;
    cJSON_Delete(vocab);
    free(text);
    if (tok_load_config(t, dir, e)) {
        bone_tokenizer_free(t);
        return NULL;
    }
    return t;
fail:
    cJSON_Delete(vocab);
    free(text);
    bone_tokenizer_free(t);
    return NULL;
}
