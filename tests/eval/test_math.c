/* test_math.c — MATH answer checking (src/eval/math_answer.c) against the test vectors shipped
 * with the data, which were produced by an independent implementation (data/math/
 * check_answers.py, Python): every row of checks.jsonl (normalised forms and verdict), every row
 * of boxed.jsonl (extracted box), and for all 5,500 problems of both data files the last box of
 * the worked solution must normalise to the same string as the `answer` field. Also the
 * "The answer is" fallback, whose rules are in math_answer.h.
 * usage: test_math DATA_MATH_DIR */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../testutil.h"
#include "core/fs.h"
#include "eval/math_answer.h"
#include "io/json.h"

/* calls fn on every JSON line of dir/name; returns the number of lines */
static int each_line(const char *dir, const char *name, void (*fn)(const cJSON *o, int line)) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *buf;
    size_t n;
    bone_err e;
    if (bone_read_file(path, &buf, &n, &e)) {
        fprintf(stderr, "FAIL: %s\n", e.msg);
        exit(1);
    }
    int line = 0;
    for (char *p = buf; p < buf + n;) {
        char *nl = memchr(p, '\n', (size_t)(buf + n - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + n - p);
        line++;
        cJSON *o = bone_json_parse(p, l, path, &e);
        CHECK(o != NULL, "%s:%d does not parse", path, line);
        if (o) fn(o, line);
        cJSON_Delete(o);
        p += l + 1;
    }
    free(buf);
    return line;
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void check_row(const cJSON *o, int line) {
    const char *pred = str(o, "pred"), *gold = str(o, "gold");
    const char *pn = str(o, "pred_norm"), *gn = str(o, "gold_norm");
    int equal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "equal"));
    char *a = bone_math_normalize(pred), *b = bone_math_normalize(gold);
    CHECK(!strcmp(a, pn), "checks.jsonl:%d (%s): normalize(\"%s\") = \"%s\", want \"%s\"", line, str(o, "rule"), pred, a,
          pn);
    CHECK(!strcmp(b, gn), "checks.jsonl:%d (%s): normalize(\"%s\") = \"%s\", want \"%s\"", line, str(o, "rule"), gold, b,
          gn);
    CHECK(bone_math_equal(pred, gold) == equal, "checks.jsonl:%d (%s): equal(\"%s\", \"%s\") != %d", line,
          str(o, "rule"), pred, gold, equal);
    free(a);
    free(b);
}

static void boxed_row(const cJSON *o, int line) {
    const char *text = str(o, "text"), *want = str(o, "boxed"); /* NULL: no answer */
    char *got = bone_math_last_boxed(text);
    CHECK((got == NULL) == (want == NULL) && (!got || !strcmp(got, want)),
          "boxed.jsonl:%d (%s): got %s%s%s, want %s%s%s", line, str(o, "desc"), got ? "\"" : "", got ? got : "null",
          got ? "\"" : "", want ? "\"" : "", want ? want : "null", want ? "\"" : "");
    free(got);
}

static int data_rows_bad = 0;
static void data_row(const cJSON *o, int line) {
    char *box = bone_math_last_boxed(str(o, "solution"));
    int ok = box && bone_math_equal(box, str(o, "answer"));
    if (!ok && data_rows_bad++ < 5)
        fprintf(stderr, "row %d (%s): last box \"%s\" vs answer \"%s\"\n", line, str(o, "unique_id"),
                box ? box : "(none)", str(o, "answer"));
    CHECK(ok, "a data row's solution box does not match its answer");
    free(box);
}

static void extract(const char *text, bone_math_how how, const char *want, int line) {
    bone_math_how h;
    char *got = bone_math_extract(text, &h);
    CHECK(h == how && (got == NULL) == (want == NULL) && (!got || !strcmp(got, want)),
          "line %d: extract(%s) = %d \"%s\", want %d \"%s\"", line, text, (int)h, got ? got : "(null)", (int)how,
          want ? want : "(null)");
    free(got);
}
#define EXTRACT(t, h, w) extract(t, h, w, __LINE__)

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_math DATA_MATH_DIR\n");
        return 2;
    }
    CHECK(each_line(argv[1], "checks.jsonl", check_row) == 92, "checks.jsonl has 92 rows (README)");
    CHECK(each_line(argv[1], "boxed.jsonl", boxed_row) == 15, "boxed.jsonl has 15 rows (README)");
    CHECK(each_line(argv[1], "math500_test.jsonl", data_row) == 500, "MATH-500 has 500 rows");
    CHECK(each_line(argv[1], "math_test.jsonl", data_row) == 5000, "the full test set has 5000 rows");
    /* the fallback when nothing is boxed (math_answer.h): after the last "The answer is",
     * optional ':', to the end of that line, one trailing '.' and a $…$ pair removed */
    EXTRACT("so x = 2. The answer is: 7", BONE_MATH_ANSWER_IS, "7");
    EXTRACT("The answer is 3. The answer is $\\frac{1}{2}$.\nmore", BONE_MATH_ANSWER_IS, "\\frac{1}{2}");
    EXTRACT("The answer is:   \n", BONE_MATH_NONE, NULL);
    EXTRACT("The answer is 4 but \\boxed{5}", BONE_MATH_BOXED, "5");
    EXTRACT("nothing here", BONE_MATH_NONE, NULL);
    /* UTF-8: "one character" is a code point (check_answers.py works on Python str) */
    char *n1 = bone_math_normalize("\\sqrt\xcf\x80"); /* \sqrtπ → \sqrt{π} */
    CHECK(!strcmp(n1, "\\sqrt{\xcf\x80}"), "sqrt of a 2-byte character: %s", n1);
    free(n1);
    char *n2 = bone_math_normalize("\xce\xb8=3"); /* θ=3: a one-character left side */
    CHECK(!strcmp(n2, "3"), "short left side with a 2-byte character: %s", n2);
    free(n2);
    char *n3 = bone_math_normalize("\xc2\xa0 5 \xe3\x80\x80"); /* NBSP and ideographic space trimmed */
    CHECK(!strcmp(n3, "5"), "Unicode white space trimmed like str.strip(): %s", n3);
    free(n3);
    printf("test_math: %d checks\n", tu_checks);
    return 0;
}
