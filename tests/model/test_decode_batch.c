/* test_decode_batch.c — batched generation (src/model/decode_batch.c) gives, for every prompt,
 * exactly the text and token count of bone_generate on that prompt alone: on models/default with
 * ragged GSM8K prompts, an empty prompt and one that runs into max_position_embeddings; greedy
 * and sampled (temperature, top-k, top-p, a seed per sequence); stop strings that fire; batches
 * of 3 and all. The reference is the one-at-a-time generator that `bone generate` uses. With an
 * RWKV-6 model (models/rwkv6, a recurrent state instead of a KV cache) the same checks run
 * through its own decoder; it has no position limit, so the long prompt is left out.
 * usage: test_decode_batch MODEL_DIR GSM8K_TEST_JSONL */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../testutil.h"
#include "core/fs.h"
#include "eval/gsm8k.h"
#include "io/json.h"
#include "model/generate_batch.h"
#include "model/model.h"

#define NP 7

static void compare(bone_model *m, bone_tokenizer *tok, char **prompts, int64_t n, const bone_gen_opts *o,
                    const uint64_t *seeds, int64_t batch, const char *what) {
    char **ref = xcalloc((size_t)n, sizeof *ref), **got = xcalloc((size_t)n, sizeof *got);
    int64_t *rn = xcalloc((size_t)n, sizeof *rn), *gn = xcalloc((size_t)n, sizeof *gn);
    bone_err e;
    for (int64_t i = 0; i < n; i++) {
        bone_gen_opts oi = *o;
        if (seeds) oi.seed = seeds[i];
        CHECK(!bone_generate(m, tok, prompts[i], &oi, NULL, NULL, &ref[i], &rn[i], &e), "%s: generate: %s", what, e.msg);
    }
    for (int64_t i = 0; i < n; i += batch) {
        int64_t nb = n - i < batch ? n - i : batch;
        CHECK(!bone_generate_batch(m, tok, (const char *const *)prompts + i, nb, o, seeds ? seeds + i : NULL, got + i,
                                   gn + i, &e), "%s: batch: %s", what, e.msg);
    }
    int64_t tokens = 0;
    for (int64_t i = 0; i < n; i++) {
        CHECK(ref[i] && got[i] && !strcmp(ref[i], got[i]) && rn[i] == gn[i],
              "%s, batch %lld, prompt %lld: one at a time %lld tokens \"%.80s\", batched %lld tokens \"%.80s\"", what,
              (long long)batch, (long long)i, (long long)rn[i], ref[i] ? ref[i] : "", (long long)gn[i],
              got[i] ? got[i] : "");
        tokens += rn[i];
        free(ref[i]);
        free(got[i]);
    }
    printf("%s, batch %lld: %lld prompts, %lld tokens, identical\n", what, (long long)batch, (long long)n, (long long)tokens);
    free(ref);
    free(got);
    free(rn);
    free(gn);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: test_decode_batch MODEL_DIR GSM8K_TEST_JSONL\n");
        return 2;
    }
    bone_err e;
    bone_model m;
    if (bone_model_load(argv[1], &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    bone_tokenizer *tok = bone_tokenizer_load(argv[1], &e);
    CHECK(tok != NULL, "tokenizer: %s", e.msg);
    if (!tok) return 1;
    char *buf;
    size_t len;
    CHECK(!bone_read_file(argv[2], &buf, &len, &e), "%s", e.msg);
    /* prompts: GSM8K questions of different lengths in the §7.4 prompt, an empty one, and one
     * long enough that max_position_embeddings stops it */
    char *prompts[NP + 2];
    int64_t n = 0;
    char *p = buf;
    for (int i = 0; i < NP - 2; i++) {
        char *nl = strchr(p, '\n');
        cJSON *o = bone_json_parse(p, (size_t)(nl - p), "test data", &e);
        prompts[n++] = bone_gsm8k_prompt(cJSON_GetObjectItemCaseSensitive(o, "question")->valuestring);
        cJSON_Delete(o);
        p = nl + 1;
    }
    prompts[n++] = xstrdup("");
    if (m.cfg.max_pos <= 4096) {
        /* words until fewer than max_new (16) positions are left: the repeat count from one
         * encoding of a few repeats, then grown a repeat at a time (encoding the whole prompt after
         * every repeat made this test quadratic in max_position_embeddings) */
        static const char unit[] = "one two three ";
        const size_t ul = sizeof unit - 1;
        size_t nids = 0, reps = 8;
        const size_t cap = 64 * 1024;
        char *longp = xmalloc(cap);
        int32_t *ids;
        for (size_t i = 0; i < reps; i++) memcpy(longp + i * ul, unit, ul);
        CHECK(!bone_tokenizer_encode(tok, longp, reps * ul, 1, &ids, &nids, &e), "encode");
        free(ids);
        size_t per = nids / reps ? nids / reps : 1;
        reps = (size_t)(m.cfg.max_pos - 12) / per;
        for (int tries = 0; tries < 64; tries++) {
            if ((reps + 1) * ul >= cap) break;
            for (size_t i = 0; i < reps; i++) memcpy(longp + i * ul, unit, ul);
            longp[reps * ul] = 0;
            CHECK(!bone_tokenizer_encode(tok, longp, reps * ul, 1, &ids, &nids, &e), "encode");
            free(ids);
            if ((int64_t)nids + 8 < m.cfg.max_pos) reps++;
            else if ((int64_t)nids >= m.cfg.max_pos) reps--;
            else break;
        }
        prompts[n++] = longp;
        printf("long prompt: %zu tokens of %lld positions\n", nids, (long long)m.cfg.max_pos);
        CHECK((int64_t)nids < m.cfg.max_pos && (int64_t)nids + 16 > m.cfg.max_pos,
              "the long prompt must leave fewer than 16 positions (%zu tokens)", nids);
    } else
        printf("no position limit (max_pos %lld): no long prompt\n", (long long)m.cfg.max_pos);

    bone_gen_opts o;
    bone_gen_opts_default(&o);
    o.max_new = 16;
    o.temperature = 0;
    o.stop = BONE_GSM8K_STOP;
    compare(&m, tok, prompts, n, &o, NULL, n, "greedy, GSM8K stops");
    static const char *const stops[] = {".", "\n", NULL}; /* fire early, mid-piece */
    o.stop = stops;
    compare(&m, tok, prompts, n, &o, NULL, n, "greedy, stops '.' and newline");
    o.stop = NULL;
    o.temperature = 0.9;
    o.top_k = 40;
    o.top_p = 0.95;
    uint64_t seeds[NP];
    for (int64_t i = 0; i < n; i++) seeds[i] = 1000 + (uint64_t)i * 7;
    compare(&m, tok, prompts, n, &o, seeds, 3, "sampled, a seed per prompt");
    for (int64_t i = 0; i < n; i++) free(prompts[i]);
    free(buf);
    bone_tokenizer_free(tok);
    bone_model_free(&m);
    return 0;
}
