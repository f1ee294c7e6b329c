/* test_instruct_real.c — masking on real tokenizers (fixtures from scripts/fetch-tokenizers.sh)
 * and the real GSM8K train set: for every example, every prompt label is -100, every response
 * token and the EOS is trained, the ids equal the tokenization of the rendered text, and the chat
 * templates put no second BOS. A missing fixture is a failure.
 * usage: test_instruct_real GSM8K_TRAIN.jsonl */
#include <regex.h>
#include <unistd.h>
#include "data/dataset.h"
#include "data/template.h"
#include "tokenizer/tokenizer.h"
#include "../tokenizer/tok_test_util.h"

/* The expected answer text, written here from the task's rule, not from src/data: every GSM8K
 * calculator annotation is the leftmost match of the POSIX extended regex <<[^>]*>>, and each
 * match is removed. */
static char *expected_answer(const char *s) {
    regex_t re;
    if (regcomp(&re, "<<[^>]*>>", REG_EXTENDED)) { fprintf(stderr, "FAIL: regcomp\n"); exit(1); }
    size_t n = strlen(s), o = 0;
    char *p = malloc(n + 1);
    regmatch_t m;
    while (*s && !regexec(&re, s, 1, &m, 0)) {
        memcpy(p + o, s, (size_t)m.rm_so);
        o += (size_t)m.rm_so;
        s += m.rm_eo;
    }
    strcpy(p + o, s);
    regfree(&re);
    return p;
}

/* The alpaca training prompt, copied from FORMATS.md (not from src/data/template.c). */
static const char ALPACA[] = "Below is an instruction that describes a task. Write a response that appropriately "
                             "completes the request.\n\n### Instruction:\n%s\n\n### Response:";

/* GSM8K with the alpaca template: the PiSSA/Bone recipe */
static void check_alpaca(const char *tokrel, const char *gsm8k) {
    char tokdir[1024];
    tt_cache_path(tokdir, sizeof tokdir, tokrel);
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(tokdir, &e);
    if (!t) { fprintf(stderr, "FAIL: %s\n", e.msg); tu_failures++; return; }
    bone_data_opts o = {0};
    o.path = gsm8k;
    o.tokenizer = tokdir;
    bone_dataset d;
    if (bone_dataset_load_text(&o, &d, &e)) { fprintf(stderr, "FAIL: %s\n", e.msg); tu_failures++; bone_tokenizer_free(t); return; }
    size_t ng;
    char *g = tt_read(gsm8k, &ng);
    int64_t k = 0, ok = 0, prefix_ok = 0;
    int32_t eos = bone_tokenizer_eos(t);
    for (char *line = g; *line && k < d.n;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *r = cJSON_Parse(line);
        const char *q = cJSON_GetObjectItem(r, "question")->valuestring, *a = cJSON_GetObjectItem(r, "answer")->valuestring;
        char *ans = expected_answer(a);
        size_t np = strlen(ALPACA) + strlen(q) + 1;
        char *prompt = malloc(np);
        snprintf(prompt, np, ALPACA, q);
        size_t nf = strlen(prompt) + strlen(ans) + 2;
        char *full = malloc(nf);
        snprintf(full, nf, "%s%s\n", prompt, ans);
        int32_t *pi, *fi;
        size_t pn, fn;
        bone_tokenizer_encode(t, prompt, strlen(prompt), 1, &pi, &pn, &e);
        bone_tokenizer_encode(t, full, strlen(full), 1, &fi, &fn, &e);
        const bone_example *x = &d.ex[k];
        int good = (size_t)x->n == fn + 1 && !memcmp(x->ids, fi, fn * sizeof *fi) && x->ids[fn] == eos;
        for (int64_t i = 0; good && i < x->n; i++)
            good = (size_t)i < pn ? x->labels[i] == BONE_IGNORE : x->labels[i] == x->ids[i];
        ok += good;
        prefix_ok += pn <= fn && !memcmp(pi, fi, pn * sizeof *pi);
        if (!good && k - ok < 3) fprintf(stderr, "%s: example %lld masks wrongly\n", tokrel, (long long)k);
        free(pi); free(fi); free(prompt); free(full); free(ans);
        cJSON_Delete(r);
        k++;
        if (!nl) break;
        line = nl + 1;
    }
    printf("%s: GSM8K train, alpaca: %lld examples; %lld/%lld masked exactly (prompt -100, answer + EOS trained); "
           "tokenized prompt is a prefix in %lld/%lld\n", tokrel, (long long)d.n, (long long)ok, (long long)k,
           (long long)prefix_ok, (long long)k);
    CHECK(d.n == 7473 && ok == d.n, "%lld/%lld", (long long)ok, (long long)d.n);
    if (bone_tokenizer_bos(t) >= 0 && !strcmp(tokrel, "mistral")) CHECK(d.ex[0].ids[0] == 1, "Mistral starts with BOS");
    free(g);
    bone_dataset_free(&d);
    bone_tokenizer_free(t);
}

/* GSM8K as chat through a chat template: trained ids decode to exactly "answer<terminator>" */
static void check_chat(const char *tokrel, const char *tmpl, const char *gsm8k, const char *term, int strip) {
    char tokdir[1024], tmp[] = "/tmp/bone-chat-XXXXXX";
    tt_cache_path(tokdir, sizeof tokdir, tokrel);
    bone_err e = {{0}};
    bone_tokenizer *t = bone_tokenizer_load(tokdir, &e);
    if (!t) { fprintf(stderr, "FAIL: %s\n", e.msg); tu_failures++; return; }
    int fd = mkstemp(tmp);
    FILE *f = fdopen(fd, "w");
    size_t ng;
    char *g = tt_read(gsm8k, &ng);
    int n = 0;
    char **answers = calloc(300, sizeof *answers);
    for (char *line = g; *line && n < 300;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *r = cJSON_Parse(line);
        cJSON *o = cJSON_CreateObject(), *m = cJSON_AddArrayToObject(o, "messages");
        cJSON *u = cJSON_CreateObject(), *a = cJSON_CreateObject();
        cJSON_AddStringToObject(u, "role", "user");
        cJSON_AddStringToObject(u, "content", cJSON_GetObjectItem(r, "question")->valuestring);
        cJSON_AddStringToObject(a, "role", "assistant");
        const char *ans = cJSON_GetObjectItem(r, "answer")->valuestring;
        cJSON_AddStringToObject(a, "content", ans);
        cJSON_AddItemToArray(m, u);
        cJSON_AddItemToArray(m, a);
        char *js = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", js);
        free(js);
        answers[n] = strdup(ans);
        if (strip) { /* Llama templates trim the content */
            char *s = answers[n];
            size_t l = strlen(s);
            while (l && (s[l - 1] == ' ' || s[l - 1] == '\n')) s[--l] = 0;
        }
        n++;
        cJSON_Delete(o);
        cJSON_Delete(r);
        if (!nl) break;
        line = nl + 1;
    }
    fclose(f);
    bone_data_opts o = {0};
    o.path = tmp;
    o.tokenizer = tokdir;
    o.template_ = tmpl;
    bone_dataset d;
    int rc = bone_dataset_load_text(&o, &d, &e);
    unlink(tmp);
    if (rc) { fprintf(stderr, "FAIL %s/%s: %s\n", tokrel, tmpl ? tmpl : "default", e.msg); tu_failures++; }
    int ok = 0;
    int32_t bos = bone_tokenizer_bos(t);
    for (int64_t k = 0; !rc && k < d.n; k++) {
        const bone_example *x = &d.ex[k];
        int32_t *tr = malloc(x->n * sizeof *tr);
        size_t nt = 0, nbos = 0;
        for (int64_t i = 0; i < x->n; i++) {
            if (x->labels[i] != BONE_IGNORE) tr[nt++] = x->labels[i];
            nbos += bos >= 0 && x->ids[i] == bos;
        }
        char *dec;
        size_t dn;
        char want[8192];
        snprintf(want, sizeof want, "%s%s", answers[k], term);
        if (!bone_tokenizer_decode(t, tr, nt, 0, &dec, &dn, &e)) {
            int good = !strcmp(dec, want) && nbos <= 1;
            ok += good;
            if (!good && k - ok < 2) fprintf(stderr, "%s/%s #%lld: trained \"%s\" want \"%s\" (bos count %zu)\n", tokrel,
                                             tmpl ? tmpl : "default", (long long)k, dec, want, nbos);
            free(dec);
        }
        free(tr);
    }
    printf("%s, template %s: %d/%lld chat examples train on exactly the assistant text + %s, one BOS at most\n", tokrel,
           tmpl ? tmpl : "(tokenizer's)", ok, (long long)d.n, term);
    CHECK(!rc && ok == d.n && d.n == n, "%d/%lld", ok, (long long)d.n);
    for (int i = 0; i < n; i++) free(answers[i]);
    free(answers);
    free(g);
    if (!rc) bone_dataset_free(&d);
    bone_tokenizer_free(t);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s GSM8K_TRAIN.jsonl\n", argv[0]); return 2; }
    check_alpaca("qwen3", argv[1]);
    check_alpaca("mistral", argv[1]);
    check_alpaca("llama3", argv[1]);
    check_chat("qwen3", NULL, argv[1], "<|im_end|>", 0);
    check_chat("llama3", "llama3", argv[1], "<|eot_id|>", 1);
    check_chat("mistral", "llama2", argv[1], " </s>", 1);
    return tu_failures ? 1 : 0;
}
