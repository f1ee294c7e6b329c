/* test_instruct.c — instruction data without fixtures: template rendering against the literal
 * strings of FORMATS.md §4.10 / §7.4, masking on a small synthetic byte-level tokenizer, GSM8K
 * calculator-annotation removal, --max-len policies, and every bad-input case (malformed line with
 * file:line:column, missing field with the fields present, empty data, all dropped, non-UTF-8
 * offset, unknown format/template, unrenderable chat template) — with nothing partial returned. */
#include <unistd.h>
#include "data/dataset.h"
#include "data/template.h"
#include "../tokenizer/tok_test_util.h"

static char g_dir[256];

static char *path_of(const char *name) {
    static char p[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}
static void write_file(const char *name, const char *text, size_t n) {
    FILE *f = fopen(path_of(name), "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}
#define WRITE(name, lit) write_file(name, lit, sizeof lit - 1)

/* ---- templates vs literal strings -------------------------------------------------------- */
static void expect_render(bone_tmpl_kind want_kind, const char *name, const bone_record *r, const char *want_full,
                          const char *want_prompt, int line) {
    bone_template t;
    bone_err e = {{0}};
    if (bone_template_open(name, r->msgs != NULL, NULL, &t, &e)) {
        fprintf(stderr, "line %d: open %s: %s\n", line, name, e.msg);
        tu_failures++;
        return;
    }
    CHECK(t.kind == want_kind, "line %d kind", line);
    bone_segs s;
    if (bone_template_render(&t, r, "test", &s, &e)) {
        fprintf(stderr, "line %d: render: %s\n", line, e.msg);
        tu_failures++;
        bone_template_close(&t);
        return;
    }
    char *full = bone_segs_join(&s);
    if (strcmp(full, want_full)) {
        fprintf(stderr, "line %d: %s rendered\n  \"%s\"\nwant\n  \"%s\"\n", line, name, full, want_full);
        tu_failures++;
    }
    if (want_prompt) {
        CHECK(s.n >= 2 && !s.train[0] && !strcmp(s.text[0], want_prompt), "line %d: prompt segment \"%s\"", line,
              s.n ? s.text[0] : "");
    }
    free(full);
    bone_segs_free(&s);
    bone_template_close(&t);
}
#define EXPECT_RENDER(k, name, r, full, prompt) expect_render(k, name, r, full, prompt, __LINE__)

static void test_templates(void) {
    /* §7.4, exactly; the target follows with "\n" */
    bone_record r = {NULL, "What is 2+2?", NULL, "4", "response", NULL, 0};
    EXPECT_RENDER(BONE_TMPL_ALPACA, "alpaca", &r,
                  "Below is an instruction that describes a task. Write a response that appropriately completes the "
                  "request.\n\n### Instruction:\nWhat is 2+2?\n\n### Response:4\n",
                  "Below is an instruction that describes a task. Write a response that appropriately completes the "
                  "request.\n\n### Instruction:\nWhat is 2+2?\n\n### Response:");
    bone_record ri = {NULL, "Add.", "2 and 2", "4", "output", NULL, 0};
    EXPECT_RENDER(BONE_TMPL_ALPACA, "alpaca", &ri,
                  "Below is an instruction that describes a task, paired with an input that provides further context. "
                  "Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n"
                  "2 and 2\n\n### Response:4\n", NULL);
    /* §4.10 full examples (system "S", user "Hi"), followed by the assistant turn "A" */
    bone_msg m[] = {{"system", "S"}, {"user", "Hi"}, {"assistant", "A"}};
    bone_record rc = {NULL, NULL, NULL, NULL, NULL, m, 3};
    EXPECT_RENDER(BONE_TMPL_CHATML, "chatml", &rc,
                  "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                  "A<|im_end|>\n",
                  "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_RENDER(BONE_TMPL_LLAMA3, "llama3", &rc,
                  "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user"
                  "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>",
                  "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user"
                  "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    /* Llama-3 content is stripped */
    bone_msg m3[] = {{"user", "  Hi\n"}, {"assistant", "\nA "}};
    bone_record r3 = {NULL, NULL, NULL, NULL, NULL, m3, 2};
    EXPECT_RENDER(BONE_TMPL_LLAMA3, "llama3", &r3,
                  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant"
                  "<|end_header_id|>\n\nA<|eot_id|>", NULL);
    /* Llama-2 chat: "<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user2} [/INST]" */
    bone_msg m2[] = {{"system", "S"}, {"user", "Hi"}, {"assistant", "A"}, {"user", "U2"}, {"assistant", "B"}};
    bone_record r2 = {NULL, NULL, NULL, NULL, NULL, m2, 5};
    EXPECT_RENDER(BONE_TMPL_LLAMA2, "llama2", &r2,
                  "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nHi [/INST] A </s><s>[INST] U2 [/INST] B </s>",
                  "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nHi [/INST]");
    /* TinyLlama (Zephyr) */
    EXPECT_RENDER(BONE_TMPL_ZEPHYR, "zephyr", &rc, "<|system|>\nS</s>\n<|user|>\nHi</s>\n<|assistant|>\nA</s>\n",
                  "<|system|>\nS</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
    /* instruction records through a chat template: one user turn, one assistant turn */
    EXPECT_RENDER(BONE_TMPL_CHATML, "chatml", &r,
                  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n", NULL);
    EXPECT_RENDER(BONE_TMPL_RAW, "raw", &r, "What is 2+2?4", "What is 2+2?");
    /* user template file with placeholders */
    WRITE("t1.txt", "Q: {question}\nA: {answer} [{{done}}]");
    cJSON *obj = cJSON_Parse("{\"question\":\"2+2?\",\"answer\":\"4\"}");
    bone_record rf = {obj, "2+2?", NULL, "4", "answer", NULL, 0};
    EXPECT_RENDER(BONE_TMPL_FILE, path_of("t1.txt"), &rf, "Q: 2+2?\nA: 4 [{done}]", "Q: 2+2?\nA: ");
    WRITE("t2.txt", "Question: {instruction}\nAnswer:");
    EXPECT_RENDER(BONE_TMPL_FILE, path_of("t2.txt"), &rf, "Question: 2+2?\nAnswer:4", "Question: 2+2?\nAnswer:");
    WRITE("t3.txt", "{nope} {question}");
    bone_template t;
    bone_segs s;
    bone_err e = {{0}};
    CHECK(!bone_template_open(path_of("t3.txt"), 0, NULL, &t, &e), "open t3");
    CHECK(bone_template_render(&t, &rf, "f.jsonl:3", &s, &e) == -1 && strstr(e.msg, "{nope}") &&
              strstr(e.msg, "\"question\", \"answer\"") && strstr(e.msg, "f.jsonl:3"),
          "unknown placeholder: %s", e.msg);
    bone_template_close(&t);
    cJSON_Delete(obj);
    CHECK(bone_template_open("nosuch", 0, NULL, &t, &e) == -1 && strstr(e.msg, "nosuch"), "%s", e.msg);
    /* chat data with no template given and no tokenizer chat template: an error, not a guess */
    CHECK(bone_template_open(NULL, 1, NULL, &t, &e) == -1 && strstr(e.msg, "--template"), "%s", e.msg);
    /* llama2 needs alternation */
    bone_msg bad[] = {{"user", "a"}, {"user", "b"}, {"assistant", "c"}};
    bone_record rb = {NULL, NULL, NULL, NULL, NULL, bad, 3};
    CHECK(!bone_template_open("llama2", 1, NULL, &t, &e), "open");
    CHECK(bone_template_render(&t, &rb, "x:1", &s, &e) == -1 && strstr(e.msg, "alternate"), "%s", e.msg);
    bone_template_close(&t);
}

/* ---- a synthetic byte-level tokenizer ------------------------------------------------------ */
static void write_tokenizer2(const char *chat_template, const char *post) {
    size_t cap = 1 << 16;
    char *j = malloc(cap);
    int n = snprintf(j, cap,
                     "{\"added_tokens\":[{\"id\":256,\"content\":\"<|im_start|>\",\"special\":true,\"normalized\":false},"
                     "{\"id\":257,\"content\":\"<|im_end|>\",\"special\":true,\"normalized\":false},"
                     "{\"id\":258,\"content\":\"<|endoftext|>\",\"special\":true,\"normalized\":false}],"
                     "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
                     "\"post_processor\":%s,\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{", post);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; b++) {
        int id = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        n += snprintf(j + n, cap - n, "%s\"\\u%04x\":%d", b ? "," : "", id ? (uint32_t)b : next++, b);
    }
    n += snprintf(j + n, cap - n, "},\"merges\":[]}}");
    write_file("tokenizer.json", j, (size_t)n);
    n = snprintf(j, cap, "{\"eos_token\":\"<|endoftext|>\",\"pad_token\":\"<|endoftext|>\",\"chat_template\":\"%s\"}",
                 chat_template);
    write_file("tokenizer_config.json", j, (size_t)n);
    free(j);
}

static void write_tokenizer(const char *chat_template) { write_tokenizer2(chat_template, "null"); }

static int load(const char *file, const char *fmt, const char *tmpl, int64_t max_len, bone_maxlen_policy pol,
                int keep_calc, bone_dataset *d, bone_err *e) {
    bone_data_opts o = {0};
    o.path = path_of(file);
    o.format = fmt;
    o.template_ = tmpl;
    o.tokenizer = g_dir;
    o.max_len = max_len;
    o.policy = pol;
    o.keep_calc = keep_calc;
    return bone_dataset_load_text(&o, d, e);
}

/* decodes labels != -100 as bytes (the synthetic tokenizer: id = byte for ids < 256) */
static void trained_text(const bone_example *x, char *out, size_t cap) {
    size_t k = 0;
    for (int64_t i = 0; i < x->n && k + 16 < cap; i++) {
        if (x->labels[i] == BONE_IGNORE) continue;
        if (x->labels[i] < 256) out[k++] = (char)x->labels[i];
        else k += (size_t)snprintf(out + k, cap - k, "[%d]", x->labels[i]);
    }
    out[k] = 0;
}

static void test_loading(void) {
    write_tokenizer("{% for m in messages %}<|im_start|>{{ m.role }}...{% endfor %}");
    bone_dataset d;
    bone_err e = {{0}};
    char buf[4096];

    /* GSM8K: calculator annotations removed; loss on the answer + "\n" + EOS only */
    WRITE("g.jsonl", "{\"question\": \"Q1?\", \"answer\": \"2*3=<<2*3=6>>6\\n#### 6\"}\n\n"
                     "{\"question\": \"Q2?\", \"answer\": \"x<<a>b>>y <<1+1=2>>2\"}\n");
    CHECK(!load("g.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e), "gsm8k: %s", e.msg);
    CHECK(d.n == 2, "2 examples");
    if (d.n == 2) {
        trained_text(&d.ex[0], buf, sizeof buf);
        CHECK(!strcmp(buf, "2*3=6\n#### 6\n[258]"), "trained text \"%s\"", buf);
        trained_text(&d.ex[1], buf, sizeof buf);
        CHECK(!strcmp(buf, "x<<a>b>>y 2\n[258]"), "trained text 2 \"%s\"", buf);
        /* the prompt part is exactly the alpaca prompt, all -100 */
        const bone_example *x = &d.ex[0];
        size_t np = strlen("Below is an instruction that describes a task. Write a response that appropriately "
                           "completes the request.\n\n### Instruction:\nQ1?\n\n### Response:");
        int ok = (size_t)x->n == np + strlen("2*3=6\n#### 6\n") + 1;
        for (size_t i = 0; ok && i < (size_t)x->n; i++)
            ok = i < np ? x->labels[i] == BONE_IGNORE : x->labels[i] == x->ids[i];
        CHECK(ok, "mask: prompt -100, response + EOS trained");
        CHECK(x->ids[x->n - 1] == 258, "ends with EOS");
    }
    bone_dataset_free(&d);
    CHECK(!load("g.jsonl", "gsm8k", "alpaca", 0, BONE_MAXLEN_TRUNCATE, 1, &d, &e), "keep_calc: %s", e.msg);
    if (d.n) {
        trained_text(&d.ex[0], buf, sizeof buf);
        CHECK(!strcmp(buf, "2*3=<<2*3=6>>6\n#### 6\n[258]"), "keep_calc \"%s\"", buf);
    }
    bone_dataset_free(&d);

    /* chat through the tokenizer's (ChatML) family: loss on assistant content + <|im_end|> */
    WRITE("c.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"},"
                     " {\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n");
    CHECK(!load("c.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e), "chat: %s", e.msg);
    if (d.n == 1) {
        trained_text(&d.ex[0], buf, sizeof buf);
        CHECK(!strcmp(buf, "yo[257]a[257]"), "chat trained \"%s\"", buf);
        CHECK(d.ex[0].ids[0] == 256, "starts with <|im_start|>");
    }
    bone_dataset_free(&d);

    /* MetaMathQA and Alpaca, JSON array form */
    WRITE("m.json", "[{\"query\": \"q\", \"response\": \"r\", \"type\": \"x\"}, {\"query\": \"q2\", \"response\": \"r2\"}]");
    CHECK(!load("m.json", NULL, "raw", 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) && d.n == 2, "metamath: %s", e.msg);
    if (d.n == 2) {
        trained_text(&d.ex[1], buf, sizeof buf);
        CHECK(!strcmp(buf, "r2[258]") && d.ex[1].n == 5, "raw metamath \"%s\"", buf);
    }
    bone_dataset_free(&d);
    WRITE("a.jsonl", "{\"instruction\": \"I\", \"input\": \"\", \"output\": \"O\"}\n{\"instruction\": \"I\", \"input\": \"X\", \"output\": \"O\"}\n");
    CHECK(!load("a.jsonl", "alpaca", NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) && d.n == 2, "alpaca: %s", e.msg);
    if (d.n == 2) CHECK(d.ex[1].n > d.ex[0].n + 50, "the input variant uses the longer prompt");
    bone_dataset_free(&d);

    /* --max-len: truncate / drop / error, with a count on stderr */
    WRITE("l.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"a\", \"answer\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}\n");
    CHECK(!load("l.jsonl", NULL, "raw", 10, BONE_MAXLEN_TRUNCATE, 0, &d, &e) && d.n == 2 && d.ex[1].n == 10, "truncate");
    bone_dataset_free(&d);
    CHECK(!load("l.jsonl", NULL, "raw", 10, BONE_MAXLEN_DROP, 0, &d, &e) && d.n == 1, "drop");
    bone_dataset_free(&d);
    CHECK(load("l.jsonl", NULL, "raw", 10, BONE_MAXLEN_ERROR, 0, &d, &e) == -1 && strstr(e.msg, "l.jsonl:2") &&
              strstr(e.msg, "max-len") && d.n == 0, "error policy: %s", e.msg);
    CHECK(load("l.jsonl", NULL, "raw", 2, BONE_MAXLEN_DROP, 0, &d, &e) == -1 && strstr(e.msg, "every example") &&
              d.n == 0, "all dropped: %s", e.msg);

    /* bad input */
    WRITE("bad1.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"a\", \"answer\": \"b\"}\n"
                        "{\"question\": \"a\" \"answer\": \"b\"}\n");
    CHECK(load("bad1.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "bad1.jsonl:3:") &&
              strstr(e.msg, "\"answer\"") && d.n == 0, "malformed: %s", e.msg);
    printf("  malformed line  -> %s\n", e.msg);
    WRITE("bad2.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"a\", \"answr\": \"b\"}\n");
    CHECK(load("bad2.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "bad2.jsonl:2") &&
              strstr(e.msg, "missing field \"answer\"") && strstr(e.msg, "\"question\", \"answr\"") && d.n == 0,
          "missing field: %s", e.msg);
    printf("  missing field   -> %s\n", e.msg);
    WRITE("bad3.jsonl", "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"\xE9t\xE9\", \"answer\": \"b\"}\n");
    CHECK(load("bad3.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "offset 47") &&
              strstr(e.msg, "bad3.jsonl:2:15") && d.n == 0, "non-UTF-8: %s", e.msg);
    printf("  non-UTF-8       -> %s\n", e.msg);
    WRITE("empty.jsonl", "\n  \n");
    CHECK(load("empty.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "empty"), "empty: %s", e.msg);
    WRITE("empty.json", "[]");
    CHECK(load("empty.json", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "empty"), "empty array: %s", e.msg);
    WRITE("bad4.jsonl", "{\"foo\": 1, \"bar\": \"x\"}\n");
    CHECK(load("bad4.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "\"foo\", \"bar\""),
          "undetectable: %s", e.msg);
    WRITE("bad5.jsonl", "{\"messages\": [{\"role\": \"user\", \"text\": \"hi\"}]}\n");
    CHECK(load("bad5.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "messages[0]") &&
              strstr(e.msg, "missing field \"content\"") && strstr(e.msg, "\"role\", \"text\""), "chat field: %s", e.msg);
    WRITE("bad6.jsonl", "{\"question\": 5, \"answer\": \"b\"}\n");
    CHECK(load("bad6.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "\"question\" must be a string"),
          "type: %s", e.msg);
    CHECK(load("g.jsonl", "metamath", NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "missing field \"query\""),
          "format mismatch: %s", e.msg);
    CHECK(load("g.jsonl", "csv", NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "csv"), "format: %s", e.msg);
    CHECK(load("nosuch.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "nosuch.jsonl"), "missing file: %s", e.msg);
    WRITE("bad7.json", "[{\"question\": \"a\", \"answer\": \"b\"},\n {\"question\": \"a\" ]");
    CHECK(load("bad7.json", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "bad7.json:2:"), "array: %s", e.msg);
    WRITE("bad8.jsonl", "{\"question\": \"a\", \"answer\": \"b\"} x\n");
    CHECK(load("bad8.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "bad8.jsonl:1:") &&
              strstr(e.msg, "x"), "trailing: %s", e.msg);

    /* ChatML with a Qwen2-style default system message, taken from the tokenizer's template */
    write_tokenizer("{% if messages[0].role != 'system' %}<|im_start|>system\\nYou are a helpful assistant.<|im_end|>{% endif %}");
    CHECK(!load("c.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) && d.n == 1, "default system: %s", e.msg);
    if (d.n == 1) {
        const char *want = "system\nYou are a helpful assistant.";
        int ok = d.ex[0].ids[0] == 256 && d.ex[0].ids[1 + strlen(want)] == 257;
        for (size_t i = 0; ok && i < strlen(want); i++) ok = d.ex[0].ids[1 + i] == (unsigned char)want[i];
        CHECK(ok, "default system message rendered first");
        trained_text(&d.ex[0], buf, sizeof buf);
        CHECK(!strcmp(buf, "yo[257]a[257]"), "default system not trained: \"%s\"", buf);
    }
    bone_dataset_free(&d);

    /* a post-processor that adds BOS and EOS: BOS masked, its EOS trained, no second EOS */
    write_tokenizer2("", "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"B\",\"type_id\":0}},"
                         "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"E\",\"type_id\":0}}],"
                         "\"special_tokens\":{\"B\":{\"id\":\"B\",\"ids\":[256]},\"E\":{\"id\":\"E\",\"ids\":[258]}}}");
    CHECK(!load("m.json", NULL, "raw", 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) && d.n == 2, "bos+eos template: %s", e.msg);
    if (d.n == 2) {
        const bone_example *x = &d.ex[1];
        trained_text(x, buf, sizeof buf);
        CHECK(x->n == 6 && x->ids[0] == 256 && x->labels[0] == BONE_IGNORE && x->ids[5] == 258 && x->ids[4] != 258 &&
                  !strcmp(buf, "r2[258]"), "bos+eos: n=%lld trained \"%s\"", (long long)x->n, buf);
    }
    bone_dataset_free(&d);

    /* a chat template of a family bone cannot render is an error that says so */
    write_tokenizer("{{ messages | custom }}");
    CHECK(load("c.jsonl", NULL, NULL, 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "not one bone can render"),
          "unknown family: %s", e.msg);
    /* ... but an explicit --template works */
    CHECK(!load("c.jsonl", NULL, "chatml", 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) && d.n == 1, "explicit chatml: %s", e.msg);
    bone_dataset_free(&d);
    /* llama3 needs its special tokens */
    CHECK(load("c.jsonl", NULL, "llama3", 0, BONE_MAXLEN_TRUNCATE, 0, &d, &e) == -1 && strstr(e.msg, "<|begin_of_text|>"),
          "llama3 tokens: %s", e.msg);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/bone-data-test-XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_templates();
    test_loading();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) fprintf(stderr, "warning: could not remove %s\n", g_dir);
    if (tu_failures) fprintf(stderr, "%d check(s) failed\n", tu_failures);
    else printf("instruction data tests: ok\n");
    return tu_failures ? 1 : 0;
}
