/* gguf_export.c — `bone export gguf` / `gguf-lora`: a merged model or a LoRA-form adapter as
 * GGUF, with llama.cpp's names, key types, Q/K row order and tokenizer keys (docs/GGUF.md
 * §3.3–3.8). The architecture-specific part is one row per architecture (arch_of below):
 * llama (also Mistral), qwen2 and rwkv6 (§3.7: its own metadata and tensor transforms). The
 * tokenizer is the Hugging Face tokenizer.json (gpt2/llama vocab forms) or the RWKV World
 * vocabulary (rwkv form, §3.4). */
#include "adapter/gguf_export.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapter/adapter.h"
#include "adapter/adapter_internal.h"
#include "core/fs.h"
#include "io/gguf.h"
#include "io/json.h"
#include "model/model.h"
#include "model/rwkv6_internal.h"
#include "tokenizer/tokenizer.h"

int bone_gguf_type_parse(const char *s, uint32_t *type) {
    if (!strcmp(s, "f32")) *type = GGML_F32;
    else if (!strcmp(s, "f16")) *type = GGML_F16;
    else if (!strcmp(s, "bf16")) *type = GGML_BF16;
    else if (!strcmp(s, "q8_0")) *type = GGML_Q8_0;
    else return -1;
    return 0;
}

/* general.file_type (llama.cpp's LlamaFileType) of a file whose 2-D weights are `type` */
static uint32_t file_type(uint32_t type) {
    return type == GGML_F16 ? 1 : type == GGML_Q8_0 ? 7 : type == GGML_BF16 ? 32 : 0;
}

/* ---- architectures ----
 * How a bone model maps onto one of llama.cpp's architectures: its name, whether Q/K rows are
 * permuted (llama's converter undoes HF's rotate_half order; qwen2 keeps it, its RoPE is NEOX),
 * the GGUF base names of a layer's adaptable linears (in bone_model_linear order, for
 * gguf-lora), what llama.cpp cannot run the same (refused), and the writers of the
 * architecture's metadata and tensors. The table itself is below the writers (arch_of). */
typedef struct gguf_arch gguf_arch;
struct gguf_arch {
    const char *name;
    int permute_qk;
    const char *const *lin;
    int (*check)(const bone_config *c, const char *dir, bone_err *e);
    void (*kv)(bone_gguf_w *w, const gguf_arch *A, const bone_config *c);
    int (*tensors)(bone_gguf_w *w, const gguf_arch *A, bone_model *m, uint32_t type, int64_t *fb, bone_err *e);
};

/* ---- tokenizer ----
 * The split regexes of the byte-level BPE pre-tokenizers llama.cpp knows, as they appear in a
 * tokenizer.json (a Split with behavior Isolated, then ByteLevel without its own regex). The
 * default model's is exactly Qwen2's. Matching the regex text, not hashing the output as
 * llama.cpp's converter does, so an unknown tokenizer is refused instead of guessed. */
static const struct { const char *pre, *re; } KNOWN_PRE[] = {
    {"qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
              "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
    {"llama-bpe", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
                  "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
};

static const char *jtype(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "";
}
static int jbool(const cJSON *o, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* Decides tokenizer.ggml.model and .pre from tokenizer.json: "gpt2" + a known pre for
 * byte-level BPE, "llama" for SentencePiece-style BPE (byte fallback, ▁ for spaces). */
static int tokenizer_kind(const cJSON *tj, const char *path, const char **model, const char **pre, int *space_prefix,
                          bone_err *e) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(tj, "model");
    if (strcmp(jtype(m), "BPE"))
        return bone_fail(e, "%s: model.type \"%s\": GGUF export supports BPE tokenizers only", path, jtype(m));
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(tj, "pre_tokenizer");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(tj, "normalizer");
    const cJSON *list[8];
    int n = 0;
    if (pt && !cJSON_IsNull(pt)) {
        if (!strcmp(jtype(pt), "Sequence")) {
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
            for (const cJSON *x = cJSON_IsArray(seq) ? seq->child : NULL; x && n < 8; x = x->next) list[n++] = x;
        } else {
            list[n++] = pt;
        }
    }
    char found[512];
    snprintf(found, sizeof found, "%s", n ? "" : "none");
    for (int i = 0; i < n; i++)
        snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", i ? ", " : "", jtype(list[i]));
    *space_prefix = 0;
    if (jbool(m, "byte_fallback", 0)) {
        /* SentencePiece converted to BPE (Llama-2, TinyLlama, Mistral): ▁ normalizer, no pre-tokenizer
         * (or Metaspace) */
        int prepend = 0;
        if (nm && !cJSON_IsNull(nm)) {
            const cJSON *seq = !strcmp(jtype(nm), "Sequence") ? cJSON_GetObjectItemCaseSensitive(nm, "normalizers") : NULL;
            for (const cJSON *x = seq ? seq->child : nm; x; x = seq ? x->next : NULL)
                if (!strcmp(jtype(x), "Prepend")) prepend = 1;
        }
        for (int i = 0; i < n; i++) {
            if (strcmp(jtype(list[i]), "Metaspace"))
                return bone_fail(e, "%s: a byte-fallback BPE with pre-tokenizer %s has no llama.cpp form (expected "
                                    "SentencePiece's: none or Metaspace)", path, found);
            const cJSON *ps = cJSON_GetObjectItemCaseSensitive(list[i], "prepend_scheme");
            prepend = !cJSON_IsString(ps) || strcmp(ps->valuestring, "never");
        }
        *model = "llama";
        *pre = "";
        *space_prefix = prepend;
        return 0;
    }
    if (nm && !cJSON_IsNull(nm) && strcmp(jtype(nm), "NFC"))
        return bone_fail(e, "%s: normalizer %s: llama.cpp's byte-level BPE applies none (NFC, as Qwen2's, is "
                            "accepted)", path, jtype(nm));
    if (n == 1 && !strcmp(jtype(list[0]), "ByteLevel") && jbool(list[0], "use_regex", 1) &&
        !jbool(list[0], "add_prefix_space", 0)) {
        *model = "gpt2";
        *pre = "gpt2";
        return 0;
    }
    if (n == 2 && !strcmp(jtype(list[0]), "Split") && !strcmp(jtype(list[1]), "ByteLevel") &&
        !jbool(list[1], "use_regex", 1) && !jbool(list[1], "add_prefix_space", 0)) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(list[0], "pattern");
        const cJSON *re = pat ? cJSON_GetObjectItemCaseSensitive(pat, "Regex") : NULL;
        const cJSON *bh = cJSON_GetObjectItemCaseSensitive(list[0], "behavior");
        if (cJSON_IsString(re) && cJSON_IsString(bh) && !strcmp(bh->valuestring, "Isolated") &&
            !jbool(list[0], "invert", 0))
            for (size_t k = 0; k < sizeof KNOWN_PRE / sizeof KNOWN_PRE[0]; k++)
                if (!strcmp(re->valuestring, KNOWN_PRE[k].re)) {
                    *model = "gpt2";
                    *pre = KNOWN_PRE[k].pre;
                    return 0;
                }
        return bone_fail(e, "%s: the pre-tokenizer's split regex %s%.200s%s is none of those bone maps to llama.cpp "
                            "(qwen2's, llama-bpe's, gpt2's); llama.cpp would split text differently, so the export "
                            "is refused", path, cJSON_IsString(re) ? "\"" : "", cJSON_IsString(re) ? re->valuestring
                                                                                                    : "(not a Regex)",
                         cJSON_IsString(re) ? "\"" : "");
    }
    return bone_fail(e, "%s: pre-tokenizer [%s] matches none of llama.cpp's byte-level forms bone knows (Split with "
                        "qwen2's or llama-bpe's regex + ByteLevel, or GPT-2's ByteLevel); the export is refused",
                     path, found);
}

/* One World token as llama.cpp's rwkv vocabulary stores it: the token's bytes as Python's
 * repr(bytes)[2:-1] (printable ASCII as is, \t \n \r \\ escaped, other bytes \xhh in lower case
 * hex, which is all llama_unescape_rwkv_token decodes), NUL-terminated in a new buffer. */
static char *rwkv_escape(const unsigned char *b, size_t n) {
    char *o = xmalloc(4 * n + 1), *q = o;
    for (size_t i = 0; i < n; i++) {
        const unsigned c = b[i];
        if (c == '\t') q += sprintf(q, "\\t");
        else if (c == '\n') q += sprintf(q, "\\n");
        else if (c == '\r') q += sprintf(q, "\\r");
        else if (c == '\\') q += sprintf(q, "\\\\");
        else if (c >= 0x20 && c < 0x7f) *q++ = (char)c;
        else q += sprintf(q, "\\x%02x", c);
    }
    *q = 0;
    return o;
}

/* The RWKV World vocabulary (rwkv_vocab_v20230424.txt in dir) as llama.cpp's converter writes it
 * (_set_vocab_rwkv_world, docs/GGUF.md §3.4): tokenizer.ggml.model "rwkv", token 0 "<s>" CONTROL
 * (bone's end-of-text, the document separator), tokens 1… escaped NORMAL, ids past the vocabulary
 * "[PAD{i}]" UNUSED up to the embedding rows; bos = eos = 0, eot = 261 ("\n\n") when it is, no
 * BOS/EOS added to a prompt (llama.cpp's rwkv tokenizer adds none; neither does bone's). */
static int write_vocab_rwkv(bone_gguf_w *w, const char *dir, const bone_config *cfg, bone_err *e) {
    bone_tokenizer *tok = bone_tokenizer_load(dir, e);
    if (!tok) return -1;
    const int64_t V = cfg->vocab, nt = bone_tokenizer_vocab_size(tok);
    int rc = -1;
    if (!bone_tokenizer_is_rwkv_world(tok)) {
        bone_fail(e, "%s: expected the RWKV World vocabulary " BONE_RWKV_VOCAB_NAME " (no tokenizer.json)", dir);
        goto out;
    }
    if (nt > V) {
        bone_fail(e, "%s/" BONE_RWKV_VOCAB_NAME ": %lld tokens but config.json's vocab_size is %lld", dir,
                  (long long)nt, (long long)V);
        goto out;
    }
    char **tokens = xcalloc((size_t)V, sizeof *tokens);
    int32_t *types = xcalloc((size_t)V, sizeof *types);
    for (int64_t i = 0; i < V; i++) {
        size_t n = 0;
        const char *p = i > 0 && i < nt ? bone_tokenizer_token_bytes(tok, (int32_t)i, &n) : NULL;
        if (i == 0) {
            tokens[i] = xstrdup("<s>");
            types[i] = 3; /* CONTROL */
        } else if (p) {
            tokens[i] = rwkv_escape((const unsigned char *)p, n);
            types[i] = 1; /* NORMAL */
        } else {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
            tokens[i] = xstrdup(pad);
            types[i] = 5; /* UNUSED */
        }
    }
    bone_gguf_w_str(w, "tokenizer.ggml.model", "rwkv");
    bone_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, NULL, (uint64_t)V);
    bone_gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)V);
    bone_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 0);
    bone_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 0);
    size_t n261 = 0;
    const char *p261 = bone_tokenizer_token_bytes(tok, 261, &n261);
    if (p261 && n261 == 2 && !memcmp(p261, "\n\n", 2)) bone_gguf_w_u32(w, "tokenizer.ggml.eot_token_id", 261);
    bone_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", 0);
    bone_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", 0);
    bone_gguf_w_str(w, "tokenizer.chat_template", "rwkv-world"); /* a template name llama.cpp knows */
    for (int64_t i = 0; i < V; i++) free(tokens[i]);
    free(tokens);
    free(types);
    rc = 0;
out:
    bone_tokenizer_free(tok);
    return rc;
}

/* tokenizer.ggml.* from model_dir's tokenizer.json + tokenizer_config.json, for n_vocab rows
 * (or the RWKV World vocabulary when the directory has that instead) */
static int write_tokenizer(bone_gguf_w *w, const char *dir, const bone_config *cfg, const char **model_out,
                           const char **pre_out, bone_err *e) {
    char *tjp = bone_path_join(dir, "tokenizer.json");
    char *rvp = bone_path_join(dir, BONE_RWKV_VOCAB_NAME);
    const int world = !bone_file_exists(tjp) && bone_file_exists(rvp);
    free(rvp);
    if (world) {
        free(tjp);
        *model_out = "rwkv";
        *pre_out = "";
        return write_vocab_rwkv(w, dir, cfg, e);
    }
    char *tcp = bone_path_join(dir, "tokenizer_config.json");
    cJSON *tj = NULL, *tc = NULL;
    bone_tokenizer *tok = NULL;
    char **tokens = NULL;
    uint32_t *tlen = NULL;
    int32_t *types = NULL;
    float *scores = NULL;
    char **merges = NULL;
    int64_t nm = 0;
    const int64_t V = cfg->vocab;
    int rc = -1;
    if (!bone_file_exists(tjp)) {
        bone_fail(e, "%s: no tokenizer.json; GGUF export needs the Hugging Face tokenizer.json or the RWKV World "
                     BONE_RWKV_VOCAB_NAME " (a GPT-2 vocab.json + merges.txt or tokenizer.bin is not exported)", dir);
        goto out;
    }
    if (!(tj = bone_json_load_object(tjp, e))) goto out;
    if (bone_file_exists(tcp) && !(tc = bone_json_load_object(tcp, e))) goto out;
    if (!(tok = bone_tokenizer_load(dir, e))) goto out;
    const char *model, *pre;
    int space_prefix;
    if (tokenizer_kind(tj, tjp, &model, &pre, &space_prefix, e)) goto out;
    const int64_t nt = bone_tokenizer_vocab_size(tok);
    if (nt > V) {
        bone_fail(e, "%s: the tokenizer has %lld tokens but config.json's vocab_size is %lld", tjp, (long long)nt,
                  (long long)V);
        goto out;
    }
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(tj, "model");
    const int spm = !strcmp(model, "llama");
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(mj, "unk_token");
    const int32_t unk_id = cJSON_IsString(unk) ? bone_tokenizer_piece_to_id(tok, unk->valuestring) : -1;
    /* merges, in rank order: "a b" strings or [a, b] pairs */
    const cJSON *mg = cJSON_GetObjectItemCaseSensitive(mj, "merges");
    int64_t nmg = cJSON_IsArray(mg) ? cJSON_GetArraySize(mg) : 0;
    merges = xcalloc((size_t)nmg + 1, sizeof *merges);
    for (const cJSON *x = mg ? mg->child : NULL; x; x = x->next) {
        if (cJSON_IsString(x)) {
            merges[nm++] = xstrdup(x->valuestring);
        } else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 && cJSON_IsString(x->child) &&
                   cJSON_IsString(x->child->next)) {
            size_t la = strlen(x->child->valuestring), lb = strlen(x->child->next->valuestring);
            merges[nm] = xmalloc(la + lb + 2);
            snprintf(merges[nm++], la + lb + 2, "%s %s", x->child->valuestring, x->child->next->valuestring);
        } else {
            bone_fail(e, "%s: model.merges[%lld] is neither \"a b\" nor [\"a\", \"b\"]", tjp, (long long)nm);
            goto out;
        }
    }
    tokens = xcalloc((size_t)V, sizeof *tokens);
    tlen = xcalloc((size_t)V, sizeof *tlen);
    types = xcalloc((size_t)V, sizeof *types);
    scores = xcalloc((size_t)V, sizeof *scores);
    /* SentencePiece scores: llama.cpp merges the adjacent pair whose concatenation scores
     * highest, HF the pair of lowest merge rank, so a token scores minus the rank of the first
     * merge that makes it (tokens no merge makes score 0 and are never formed by merging). */
    for (int64_t i = 0; i < V; i++) {
        const char *p = i < nt ? bone_tokenizer_token_to_piece(tok, (int32_t)i) : NULL;
        if (!p) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
            tokens[i] = xstrdup(pad);
            types[i] = 5; /* UNUSED */
            scores[i] = -1000.0f;
        } else {
            tokens[i] = xstrdup(p);
            int added = bone_tokenizer_is_special(tok, (int32_t)i);
            types[i] = added ? 3 : 1; /* CONTROL : NORMAL */
            if (spm && !added && strlen(p) == 6 && !strncmp(p, "<0x", 3) && p[5] == '>') types[i] = 6; /* BYTE */
            if (i == unk_id) types[i] = 2; /* UNKNOWN */
        }
        tlen[i] = (uint32_t)strlen(tokens[i]);
    }
    /* added tokens that are not special are USER_DEFINED */
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    for (const cJSON *x = at ? at->child : NULL; x; x = x->next) {
        int64_t id;
        if (!bone_json_is_int(cJSON_GetObjectItemCaseSensitive(x, "id"), &id) || id < 0 || id >= V) continue;
        if (!jbool(x, "special", 0) && id != unk_id) types[id] = 4;
    }
    if (spm)
        for (int64_t r = nm - 1; r >= 0; r--) { /* descending, so the lowest rank is kept */
            char cat[1024];
            const char *sp = strchr(merges[r], ' ');
            if (!sp || strlen(merges[r]) >= sizeof cat) continue;
            snprintf(cat, sizeof cat, "%.*s%s", (int)(sp - merges[r]), merges[r], sp + 1);
            int32_t id = bone_tokenizer_piece_to_id(tok, cat);
            if (id >= 0 && id < V) scores[id] = -(float)r;
        }
    bone_gguf_w_str(w, "tokenizer.ggml.model", model);
    if (!spm) bone_gguf_w_str(w, "tokenizer.ggml.pre", pre);
    bone_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, tlen, (uint64_t)V);
    if (spm) bone_gguf_w_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)V);
    bone_gguf_w_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)V);
    if (!spm) bone_gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges, NULL, (uint64_t)nm);
    /* special ids: the tokenizer's, else config.json's (as gguf-py's SpecialVocab) */
    int64_t bos = bone_tokenizer_bos(tok) >= 0 ? bone_tokenizer_bos(tok) : cfg->bos;
    int64_t eos = bone_tokenizer_eos(tok) >= 0 ? bone_tokenizer_eos(tok) : cfg->eos;
    int64_t pad = bone_tokenizer_pad(tok) >= 0 ? bone_tokenizer_pad(tok) : cfg->pad;
    if (bos >= 0) bone_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0) bone_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (unk_id >= 0) bone_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)unk_id);
    if (pad >= 0) bone_gguf_w_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad);
    /* written explicitly: llama.cpp's defaults differ from HF's (e.g. add_bos under llama-bpe) */
    size_t npre, nsuf;
    bone_tokenizer_special_counts(tok, &npre, &nsuf);
    bone_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", npre > 0);
    bone_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", nsuf > 0);
    if (spm) bone_gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", space_prefix);
    const cJSON *ct = tc ? cJSON_GetObjectItemCaseSensitive(tc, "chat_template") : NULL;
    if (cJSON_IsArray(ct)) { /* a list of named templates: the "default" one */
        const cJSON *x = ct->child;
        for (; x; x = x->next) {
            const cJSON *nmj = cJSON_GetObjectItemCaseSensitive(x, "name");
            if (cJSON_IsString(nmj) && !strcmp(nmj->valuestring, "default")) break;
        }
        ct = x ? cJSON_GetObjectItemCaseSensitive(x, "template") : NULL;
    }
    if (cJSON_IsString(ct)) bone_gguf_w_str(w, "tokenizer.chat_template", ct->valuestring);
    *model_out = model;
    *pre_out = pre;
    rc = 0;
out:
    for (int64_t i = 0; tokens && i < V; i++) free(tokens[i]);
    for (int64_t i = 0; i < nm; i++) free(merges[i]);
    free(tokens);
    free(tlen);
    free(types);
    free(scores);
    free(merges);
    bone_tokenizer_free(tok);
    cJSON_Delete(tj);
    cJSON_Delete(tc);
    free(tjp);
    free(tcp);
    return rc;
}

/* ---- tensors ---- */
static int add_t(bone_gguf_w *w, const char *name, uint32_t type, int64_t ne0, int64_t ne1, const void *src,
                 bone_dtype dt, int64_t perm, void *owned, int64_t *nfb, bone_err *e) {
    bone_gguf_wt t = {0};
    t.name = (char *)name;
    /* 1-D tensors F32 (llama.cpp's converter does the same); Q8_0 needs rows of 32k values,
     * other rows fall back to F16 as the converter does */
    t.type = ne1 ? type : GGML_F32;
    if (t.type == GGML_Q8_0 && ne0 % 32) {
        t.type = GGML_F16;
        if (nfb) (*nfb)++;
    }
    t.ndim = ne1 ? 2 : 1;
    t.ne[0] = ne0;
    t.ne[1] = ne1 ? ne1 : 1;
    t.src = src;
    t.src_dtype = dt;
    t.perm_heads = perm;
    t.owned = owned;
    if (bone_gguf_w_tensor(w, &t, e)) {
        free(owned);
        return -1;
    }
    return 0;
}

/* a 1-D vector (a Q/K bias) in llama.cpp's row order, as a new buffer */
static float *permuted_vec(const float *v, int64_t n, int64_t heads) {
    float *o = xmalloc((size_t)n * sizeof *o);
    const int64_t hd = n / heads;
    for (int64_t r = 0; r < n; r++) {
        int64_t h = r / hd, k = r % hd;
        o[r] = v[h * hd + (k % 2) * (hd / 2) + k / 2];
    }
    return o;
}

/* llama-3 rope scaling: the per-frequency divisors llama.cpp reads from rope_freqs.weight
 * (the same factors src/ops/rope.c divides the frequencies by) */
static float *llama3_rope_freqs(const bone_config *c) {
    const int64_t half = c->head_dim / 2;
    float *f = xmalloc((size_t)half * sizeof *f);
    for (int64_t i = 0; i < half; i++) {
        double w = pow(c->rope_theta, -(double)(2 * i) / (double)c->head_dim);
        double L = (double)c->rope_orig_max, lam = 2.0 * M_PI / w;
        double lam_lo = L / c->rope_low, lam_hi = L / c->rope_high, s;
        if (lam < lam_hi) f[i] = 1.0f;
        else if (lam > lam_lo) f[i] = (float)c->rope_factor;
        else {
            s = (L / lam - c->rope_low) / (c->rope_high - c->rope_low);
            f[i] = (float)(1.0 / ((1.0 - s) / c->rope_factor + s));
        }
    }
    return f;
}

static const char *base_name(const char *dir, char *buf, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/') s--;
    snprintf(buf, cap, "%.*s", (int)(n - s), dir + s);
    return buf;
}

/* A small tensor (a norm, a mix, a decay: anything not a linear), always F32 as llama.cpp's
 * converter writes them; ne in GGUF order (ne[0] fastest), ndim 1 to 4. */
static int add_f32(bone_gguf_w *w, const char *name, int ndim, const int64_t *ne, const float *src, float *owned,
                   bone_err *e) {
    bone_gguf_wt t = {0};
    t.name = (char *)name;
    t.type = GGML_F32;
    t.ndim = ndim;
    for (int d = 0; d < ndim; d++) t.ne[d] = ne[d];
    t.src = src;
    t.src_dtype = BONE_F32;
    t.owned = owned;
    if (bone_gguf_w_tensor(w, &t, e)) {
        free(owned);
        return -1;
    }
    return 0;
}

/* ---- llama / qwen2 (docs/GGUF.md §3.3, §3.5, §3.6) ---- */

/* llama.cpp's names for bone's projections (bone_proj order) */
static const char *const PROJ_GGUF[BONE_NPROJ] = {"attn_q",   "attn_k",  "attn_v",  "attn_output",
                                                   "ffn_gate", "ffn_up", "ffn_down"};

static void llama_kv(bone_gguf_w *w, const gguf_arch *A, const bone_config *c) {
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s." s, A->name), k)
    bone_gguf_w_u32(w, KEY("vocab_size"), (uint32_t)c->vocab);
    bone_gguf_w_u32(w, KEY("context_length"), (uint32_t)c->max_pos);
    bone_gguf_w_u32(w, KEY("embedding_length"), (uint32_t)c->hidden);
    bone_gguf_w_u32(w, KEY("block_count"), (uint32_t)c->n_layers);
    bone_gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)c->inter);
    bone_gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    bone_gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv);
    bone_gguf_w_f32(w, KEY("rope.freq_base"), (float)c->rope_theta);
    bone_gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)c->eps);
    bone_gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
    bone_gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim);
    bone_gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim);
    if (c->rope_type == BONE_ROPE_LINEAR) {
        bone_gguf_w_str(w, KEY("rope.scaling.type"), "linear");
        bone_gguf_w_f32(w, KEY("rope.scaling.factor"), (float)c->rope_factor);
    }
#undef KEY
}

static int llama_tensors(bone_gguf_w *w, const gguf_arch *A, bone_model *m, uint32_t type, int64_t *fb,
                         bone_err *e) {
    const bone_config *c = &m->cfg;
    const int64_t H = c->hidden, V = c->vocab;
    char name[128];
    if (add_t(w, "token_embd.weight", type, H, V, m->embed.data, m->embed.dtype, 0, NULL, fb, e)) return -1;
    if (c->rope_type == BONE_ROPE_LLAMA3) {
        float *f = llama3_rope_freqs(c);
        if (add_t(w, "rope_freqs.weight", GGML_F32, c->head_dim / 2, 0, f, BONE_F32, 0, f, fb, e)) return -1;
    }
    for (int64_t l = 0; l < c->n_layers; l++) {
        bone_layer *ly = &m->layers[l];
        snprintf(name, sizeof name, "blk.%lld.attn_norm.weight", (long long)l);
        if (add_t(w, name, type, H, 0, ly->ln1, BONE_F32, 0, NULL, fb, e)) return -1;
        for (int p = 0; p < BONE_NPROJ; p++) {
            bone_linear *L = &ly->proj[p];
            int64_t heads = !A->permute_qk ? 0 : p == BONE_Q ? c->n_heads : p == BONE_K ? c->n_kv : 0;
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, PROJ_GGUF[p]);
            if (add_t(w, name, type, L->I, L->O, L->w.data, L->w.dtype, heads, NULL, fb, e)) return -1;
            if (L->bias) {
                snprintf(name, sizeof name, "blk.%lld.%s.bias", (long long)l, PROJ_GGUF[p]);
                float *pb = heads ? permuted_vec(L->bias, L->O, heads) : NULL;
                if (add_t(w, name, type, L->O, 0, pb ? pb : L->bias, BONE_F32, 0, pb, fb, e)) return -1;
            }
            if (p == BONE_O) {
                snprintf(name, sizeof name, "blk.%lld.ffn_norm.weight", (long long)l);
                if (add_t(w, name, type, H, 0, ly->ln2, BONE_F32, 0, NULL, fb, e)) return -1;
            }
        }
    }
    if (add_t(w, "output_norm.weight", type, H, 0, m->norm, BONE_F32, 0, NULL, fb, e)) return -1;
    if (!c->tied && add_t(w, "output.weight", type, H, V, m->lm_head.data, m->lm_head.dtype, 0, NULL, fb, e))
        return -1;
    return 0;
}

/* ---- rwkv6 (docs/GGUF.md §3.7; llama.cpp's Rwkv6Model converter, src/models/rwkv6*.cpp) ---- */

/* the 8 block linears in bone's order (RW_R … RW_FV) */
static const char *const RWKV6_GGUF[RW_NLIN] = {
    "time_mix_receptance", "time_mix_key", "time_mix_value", "time_mix_gate", "time_mix_output",
    "channel_mix_key", "channel_mix_receptance", "channel_mix_value"};

/* What llama.cpp's rwkv6 graph would compute differently is refused. Its GroupNorm after the
 * WKV uses a fixed eps of 64e-5 = 1e-5·8², i.e. head_size_divisor 8 (bone: 1e-5·divisor²).
 * Head size, time_mix_extra_dim and time_decay_extra_dim are read from the metadata (the CPU
 * WKV6 kernel takes any head size; the CUDA one needs 64). */
static int rwkv6_check(const bone_config *c, const char *dir, bone_err *e) {
    if (c->head_div != 8)
        return bone_fail(e, "%s/config.json: head_size_divisor %lld: llama.cpp's rwkv6 normalises the heads with the "
                            "fixed eps 64e-5 of head_size_divisor 8, so it would compute a different model; the GGUF "
                            "export is refused", dir, (long long)c->head_div);
    return 0;
}

static void rwkv6_kv(bone_gguf_w *w, const gguf_arch *A, const bone_config *c) {
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s." s, A->name), k)
    bone_gguf_w_u32(w, KEY("context_length"), 1048576); /* as the converter: a recurrent model has no limit */
    bone_gguf_w_u32(w, KEY("embedding_length"), (uint32_t)c->hidden);
    bone_gguf_w_u32(w, KEY("block_count"), (uint32_t)c->n_layers);
    bone_gguf_w_f32(w, KEY("attention.layer_norm_epsilon"), (float)c->eps);
    /* 0: no halving of the residual stream; the converter's alternative (rescale_every 6,
     * output/value weights divided by 2^(N/6)) is the same model only up to the LayerNorm eps,
     * and exists to keep fp16 activations from overflowing; llama.cpp's are fp32 */
    bone_gguf_w_u32(w, KEY("rescale_every_n_layers"), 0);
    bone_gguf_w_u32(w, KEY("wkv.head_size"), (uint32_t)c->head_dim);
    bone_gguf_w_u32(w, KEY("time_mix_extra_dim"), (uint32_t)c->d_mix);     /* from the loaded shapes */
    bone_gguf_w_u32(w, KEY("time_decay_extra_dim"), (uint32_t)c->d_decay);
    bone_gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)c->inter);
    bone_gguf_w_u32(w, KEY("attention.head_count"), 0); /* required by llama.cpp's loader, unused */
    bone_gguf_w_u32(w, KEY("token_shift_count"), 2);
#undef KEY
}

static int rwkv6_tensors(bone_gguf_w *w, const gguf_arch *A, bone_model *m, uint32_t type, int64_t *fb,
                         bone_err *e) {
    (void)A;
    const bone_config *c = &m->cfg;
    const rw_model *r = m->arch_data;
    const int64_t C = c->hidden, V = c->vocab, M = c->d_mix, D = c->d_decay;
    char name[128];
#define NAME(s) (snprintf(name, sizeof name, "blk.%lld." s, (long long)l), name)
    const int64_t neC[1] = {C};
    if (add_t(w, "token_embd.weight", type, C, V, m->embed.data, m->embed.dtype, 0, NULL, fb, e) ||
        add_f32(w, "token_embd_norm.weight", 1, neC, r->g[RW_LN0_W], NULL, e) ||
        add_f32(w, "token_embd_norm.bias", 1, neC, r->g[RW_LN0_B], NULL, e))
        return -1;
    for (int64_t l = 0; l < c->n_layers; l++) {
        const rw_layer *ly = &r->ly[l];
        float *const *v = ly->v;
        /* time_maa_{w,k,v,r,g} [1,1,C] each, stacked in the order w,k,v,r,g: ne {C,1,1,5} */
        float *fused = xmalloc((size_t)(5 * C) * sizeof *fused);
        const int order[5] = {RW_MAA_W, RW_MAA_K, RW_MAA_V, RW_MAA_R, RW_MAA_G};
        for (int f = 0; f < 5; f++) memcpy(fused + f * C, v[order[f]], (size_t)C * sizeof *fused);
        /* time_maa_w1 (C, 5M) transposed: ne {C, 5M} */
        float *w1 = xmalloc((size_t)(C * 5 * M) * sizeof *w1);
        for (int64_t i = 0; i < C; i++)
            for (int64_t j = 0; j < 5 * M; j++) w1[j * C + i] = v[RW_MAA_W1][i * 5 * M + j];
        /* time_maa_w2 (5, M, C) with its last two dims swapped: ne {M, C, 5} */
        float *w2 = xmalloc((size_t)(5 * M * C) * sizeof *w2);
        for (int64_t f = 0; f < 5; f++)
            for (int64_t j = 0; j < M; j++)
                for (int64_t i = 0; i < C; i++) w2[(f * C + i) * M + j] = v[RW_MAA_W2][(f * M + j) * C + i];
        /* time_decay_w1 (C, D) and time_decay_w2 (D, C), each transposed: ne {C, D} and {D, C} */
        float *d1 = xmalloc((size_t)(C * D) * sizeof *d1), *d2 = xmalloc((size_t)(D * C) * sizeof *d2);
        for (int64_t i = 0; i < C; i++)
            for (int64_t j = 0; j < D; j++) {
                d1[j * C + i] = v[RW_DECAY_W1][i * D + j];
                d2[i * D + j] = v[RW_DECAY_W2][j * C + i];
            }
        const int64_t ne_fused[4] = {C, 1, 1, 5}, ne_w1[2] = {C, 5 * M}, ne_w2[3] = {M, C, 5};
        const int64_t ne_d1[2] = {C, D}, ne_d2[2] = {D, C}, ne_first[2] = {c->head_dim, c->n_heads};
        /* the five new buffers first: each is the writer's once added, the rest freed on a failure */
        const struct { const char *n; int nd; const int64_t *ne; float *buf; } own[5] = {
            {"time_mix_lerp_fused.weight", 4, ne_fused, fused}, {"time_mix_w1.weight", 2, ne_w1, w1},
            {"time_mix_w2.weight", 3, ne_w2, w2}, {"time_mix_decay_w1.weight", 2, ne_d1, d1},
            {"time_mix_decay_w2.weight", 2, ne_d2, d2}};
        for (int i = 0; i < 5; i++) {
            snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, own[i].n);
            if (add_f32(w, name, own[i].nd, own[i].ne, own[i].buf, own[i].buf, e)) {
                for (int j = i + 1; j < 5; j++) free(own[j].buf);
                return -1;
            }
        }
        if (add_f32(w, NAME("attn_norm.weight"), 1, neC, v[RW_LN1_W], NULL, e) ||
            add_f32(w, NAME("attn_norm.bias"), 1, neC, v[RW_LN1_B], NULL, e) ||
            add_f32(w, NAME("attn_norm_2.weight"), 1, neC, v[RW_LN2_W], NULL, e) ||
            add_f32(w, NAME("attn_norm_2.bias"), 1, neC, v[RW_LN2_B], NULL, e) ||
            add_f32(w, NAME("time_mix_lerp_x.weight"), 1, neC, v[RW_MAA_X], NULL, e) ||
            add_f32(w, NAME("time_mix_decay.weight"), 1, neC, v[RW_DECAY], NULL, e) ||
            add_f32(w, NAME("time_mix_first.weight"), 2, ne_first, v[RW_FAAAA], NULL, e) ||
            add_f32(w, NAME("time_mix_ln.weight"), 1, neC, v[RW_LNX_W], NULL, e) ||
            add_f32(w, NAME("time_mix_ln.bias"), 1, neC, v[RW_LNX_B], NULL, e) ||
            add_f32(w, NAME("channel_mix_lerp_k.weight"), 1, neC, v[RW_FMAA_K], NULL, e) ||
            add_f32(w, NAME("channel_mix_lerp_r.weight"), 1, neC, v[RW_FMAA_R], NULL, e))
            return -1;
        /* the linears (merged where an adapter was), unscaled: rescale_every_n_layers is 0 */
        for (int p = 0; p < RW_NLIN; p++) {
            const bone_linear *L = &ly->lin[p];
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, RWKV6_GGUF[p]);
            if (add_t(w, name, type, L->I, L->O, L->w.data, L->w.dtype, 0, NULL, fb, e)) return -1;
        }
    }
#undef NAME
    if (add_f32(w, "output_norm.weight", 1, neC, r->g[RW_LNO_W], NULL, e) ||
        add_f32(w, "output_norm.bias", 1, neC, r->g[RW_LNO_B], NULL, e) ||
        add_t(w, "output.weight", type, C, V, m->lm_head.data, m->lm_head.dtype, 0, NULL, fb, e))
        return -1;
    return 0;
}

/* ---- the table ---- */
static const gguf_arch ARCH_LLAMA = {"llama", 1, PROJ_GGUF, NULL, llama_kv, llama_tensors},
                       ARCH_QWEN2 = {"qwen2", 0, PROJ_GGUF, NULL, llama_kv, llama_tensors},
                       ARCH_RWKV6 = {"rwkv6", 0, RWKV6_GGUF, rwkv6_check, rwkv6_kv, rwkv6_tensors};

static const gguf_arch *arch_of(const bone_config *c) {
    switch (c->arch) {
    case BONE_ARCH_LLAMA:
    case BONE_ARCH_MISTRAL: return &ARCH_LLAMA; /* llama.cpp's converter writes Mistral as llama */
    case BONE_ARCH_QWEN2: return &ARCH_QWEN2;
    case BONE_ARCH_RWKV6: return &ARCH_RWKV6;
    }
    return NULL;
}

int bone_export_gguf(const char *model_dir, const char *adapter_dir, const char *out, uint32_t type,
                     bone_gguf_export_info *info, bone_err *e) {
    memset(info, 0, sizeof *info);
    bone_model m;
    bone_params P;
    if (bone_adapter_merge_load(model_dir, adapter_dir, 0, &m, &P, NULL, &info->n_adapted, e)) return -1;
    const bone_config *c = &m.cfg;
    const gguf_arch *A = arch_of(c);
    bone_gguf_w *w = bone_gguf_w_new();
    int rc = -1;
    char name[128];
    if (!A) {
        bone_fail(e, "%s: architecture %s has no GGUF export", model_dir, bone_arch_name(c->arch));
        goto out;
    }
    if (A->check && A->check(c, model_dir, e)) goto out;
    info->arch = A->name;
    bone_gguf_w_str(w, "general.architecture", A->name);
    bone_gguf_w_str(w, "general.type", "model");
    bone_gguf_w_str(w, "general.name", base_name(model_dir, name, sizeof name));
    A->kv(w, A, c);
    bone_gguf_w_u32(w, "general.file_type", file_type(type));
    if (type == GGML_Q8_0) bone_gguf_w_u32(w, "general.quantization_version", 2);
    if (write_tokenizer(w, model_dir, c, &info->tok_model, &info->pre, e)) goto out;
    if (A->tensors(w, A, &m, type, &info->n_fallback, e)) goto out;
    rc = bone_gguf_w_write(w, out, e);
out:
    bone_gguf_w_free(w);
    bone_model_free(&m);
    bone_params_free(&P);
    return rc;
}

/* ---- adapters ---- */

/* the base model directory an adapter names (base_model_name_or_path), when it is one */
static char *adapter_base_dir(const char *adapter_dir, bone_err *e) {
    char *p = bone_path_join(adapter_dir, "adapter_config.json");
    cJSON *o = bone_json_load_object(p, e);
    char *r = NULL;
    if (o) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "base_model_name_or_path");
        if (cJSON_IsString(b) && bone_is_dir(b->valuestring)) r = xstrdup(b->valuestring);
        else
            bone_fail(e, "%s: base_model_name_or_path %s%s%s is not a model directory here; give the base with --model",
                      p, cJSON_IsString(b) ? "\"" : "", cJSON_IsString(b) ? b->valuestring : "(absent)",
                      cJSON_IsString(b) ? "\"" : "");
    }
    cJSON_Delete(o);
    free(p);
    return r;
}

int bone_export_gguf_lora(const char *model_dir, const char *adapter_dir, const char *out, uint32_t type,
                          bone_gguf_export_info *info, bone_err *e) {
    memset(info, 0, sizeof *info);
    char *base = model_dir ? xstrdup(model_dir) : adapter_base_dir(adapter_dir, e);
    if (!base) return -1;
    bone_model m;
    bone_params P;
    bone_params_init(&P);
    if (bone_model_load(base, &m, e)) {
        bone_wrap(e, "loading the base model %s", base);
        free(base);
        return -1;
    }
    bone_gguf_w *w = bone_gguf_w_new();
    int rc = -1;
    char name[128];
    const bone_config *c = &m.cfg;
    const gguf_arch *A = arch_of(c);
    if (bone_adapter_load(&m, adapter_dir, &P, e)) goto out;
    if (!A) {
        bone_fail(e, "%s: architecture %s has no GGUF export", base, bone_arch_name(c->arch));
        goto out;
    }
    if (A->check && A->check(c, base, e)) goto out;
    info->arch = A->name;
    double alpha = NAN;
    /* one alpha for the file: llama.cpp scales each pair by alpha / rank (rank = lora_b's ne[0]) */
    for (int64_t i = 0; i < bone_model_nlinears(&m); i++) {
        const bone_adapter *a = bone_adapter_of(bone_model_linear(&m, i));
        if (!a) continue;
        double al;
        if (a->method == BONE_METHOD_FREE) {
            al = (double)a->b; /* exact LoRA form: rank b, scale 1 */
        } else if (a->method == BONE_METHOD_LORA || a->method == BONE_METHOD_PISSA || a->method == BONE_METHOD_OLORA) {
            al = (double)a->scale * (double)a->rank;
        } else {
            bone_fail(e, "%s: a %s adapter has no exact LoRA form (its ΔW depends on the base weight), so it cannot "
                         "be a GGUF LoRA adapter; export the merged model instead: bone export gguf --model %s "
                         "--adapter %s --out FILE.gguf", adapter_dir, bone_method_name(a->method), base, adapter_dir);
            goto out;
        }
        if (isnan(alpha)) alpha = al;
        else if (fabs(al - alpha) > 1e-6 * fabs(alpha)) {
            bone_fail(e, "%s: the adapted layers have different alpha·scale products (%g and %g); a GGUF adapter has "
                         "one adapter.lora.alpha", adapter_dir, alpha, al);
            goto out;
        }
    }
    if (isnan(alpha)) {
        bone_fail(e, "%s: the adapter adapts no linear layer", adapter_dir);
        goto out;
    }
    info->alpha = alpha;
    bone_gguf_w_str(w, "general.architecture", A->name);
    bone_gguf_w_str(w, "general.type", "adapter");
    bone_gguf_w_str(w, "general.name", base_name(adapter_dir, name, sizeof name));
    bone_gguf_w_str(w, "adapter.type", "lora");
    bone_gguf_w_f32(w, "adapter.lora.alpha", (float)alpha);
    const int64_t nproj = bone_model_nproj(&m);
    for (int64_t l = 0; l < c->n_layers; l++)
        for (int p = 0; p < nproj; p++) {
            bone_linear *L = bone_model_linear(&m, l * nproj + p);
            const bone_adapter *a = bone_adapter_of(L);
            if (!a) continue;
            const int64_t heads = !A->permute_qk ? 0 : p == BONE_Q ? c->n_heads : p == BONE_K ? c->n_kv : 0;
            const float *Am = a->v[0], *Bm = a->v[1];
            float *Aown = NULL, *Bown = NULL;
            int64_t r = a->rank;
            if (a->method == BONE_METHOD_FREE) {
                /* PEFT's MiSS → LoRA (docs/GGUF.md last section): A (b, I) with A[i mod b][i] = 1,
                 * B (O, b) = the stored (b, O) transposed; ΔW[o][i] = B[o][i mod b] */
                r = a->b;
                Aown = xcalloc((size_t)(r * L->I), sizeof *Aown);
                for (int64_t i = 0; i < L->I; i++) Aown[(i % r) * L->I + i] = 1.0f;
                Bown = xmalloc((size_t)(L->O * r) * sizeof *Bown);
                for (int64_t k = 0; k < r; k++)
                    for (int64_t o = 0; o < L->O; o++) Bown[o * r + k] = a->v[0][k * L->O + o];
                Am = Aown;
                Bm = Bown;
            }
            snprintf(name, sizeof name, "blk.%lld.%s.weight.lora_a", (long long)l, A->lin[p]);
            if (add_t(w, name, type, L->I, r, Am, BONE_F32, 0, Aown, NULL, e)) {
                free(Bown);
                goto out;
            }
            /* the Q/K row order of the base applies to B's rows (A's input dim is untouched) */
            snprintf(name, sizeof name, "blk.%lld.%s.weight.lora_b", (long long)l, A->lin[p]);
            if (add_t(w, name, type, r, L->O, Bm, BONE_F32, heads, Bown, NULL, e)) goto out;
            info->n_adapted++;
        }
    rc = bone_gguf_w_write(w, out, e);
out:
    bone_gguf_w_free(w);
    bone_model_free(&m);
    bone_params_free(&P);
    free(base);
    return rc;
}
