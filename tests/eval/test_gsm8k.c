/* test_gsm8k.c — unit tests of src/eval/gsm8k.c. Every expected value is written from the
 * rules in FORMATS.md §7.2–7.4 (and the MetaMath/lm-eval patterns they quote), not from
 * running the code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eval/gsm8k.h"

static int fails = 0;

static const char *how_name(bone_gsm_how h) {
    return h == BONE_GSM_METAMATH ? "metamath" : h == BONE_GSM_STRICT ? "strict" : h == BONE_GSM_LAST ? "last" : "none";
}

static void ex(const char *text, bone_gsm_how how, const char *want, int line) {
    bone_gsm_answer a;
    bone_gsm8k_extract(text, &a);
    if (a.how != how || strcmp(a.value, want)) {
        fprintf(stderr, "FAIL line %d: extract(%s) = %s \"%s\", want %s \"%s\"\n", line, text, how_name(a.how), a.value,
                how_name(how), want);
        fails++;
    }
}
#define EX(t, h, w) ex(t, h, w, __LINE__)

static void gold(const char *text, int rc, const char *want, int line) {
    bone_gsm_answer a;
    int r = bone_gsm8k_gold(text, &a);
    if (r != rc || (rc == 0 && strcmp(a.value, want))) {
        fprintf(stderr, "FAIL line %d: gold(%s) = %d \"%s\", want %d \"%s\"\n", line, text, r, a.value, rc, want);
        fails++;
    }
}
#define GOLD(t, rc, w) gold(t, rc, w, __LINE__)

static void norm(const char *s, const char *want, int line) {
    char out[BONE_GSM_MAXLEN];
    bone_gsm8k_normalise(s, strlen(s), out, sizeof out);
    if (strcmp(out, want)) {
        fprintf(stderr, "FAIL line %d: normalise(\"%s\") = \"%s\", want \"%s\"\n", line, s, out, want);
        fails++;
    }
}
#define NORM(s, w) norm(s, w, __LINE__)

static void eq(const char *p, const char *g, int want, int line) {
    if (bone_gsm8k_equal(p, g) != want) {
        fprintf(stderr, "FAIL line %d: equal(\"%s\", \"%s\") != %d\n", line, p, g, want);
        fails++;
    }
}
#define EQ(p, g, w) eq(p, g, w, __LINE__)

int main(void) {
    /* §7.3 normalisation */
    NORM("72", "72");
    NORM("1,234", "1234");           /* delete ',' */
    NORM("$1,234", "1234");          /* and '$' */
    NORM("  42 \n", "42");           /* strip surrounding whitespace */
    NORM("10.", "10");               /* one trailing '.' */
    NORM("10..", "10.");             /* only one */
    NORM("18.0", "18");              /* zero fraction dropped */
    NORM("-3.00", "-3");
    NORM("18.50", "18.50");          /* not a zero fraction */
    NORM("+7", "7");                 /* leading '+' */
    NORM("0.0", "0");
    NORM("-0.5", "-0.5");
    NORM("$ 5", "5");
    NORM("", "");

    /* §7.2.1 gold: after the last "#### ", stripped, normalised */
    GOLD("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", 0, "72");
    GOLD("#### 1,234", 0, "1234");
    GOLD("#### $5", 0, "5");
    GOLD("#### 18.0", 0, "18");
    GOLD("#### -3.00\n", 0, "-3");
    GOLD("#### +7", 0, "7");
    GOLD("#### 3.5", 0, "3.5");
    GOLD("x #### 1\ny #### 2", 0, "2");
    GOLD("no marker 72", -1, "");
    GOLD("####72", -1, ""); /* the marker includes the space */

    /* §7.2.2 MetaMath: after the LAST "The answer is: ", first number-like token; a/b is a
     * fraction; commas removed; rounded to an integer */
    EX("Step 1... The answer is: 18", BONE_GSM_METAMATH, "18");
    EX("The answer is: 18.0", BONE_GSM_METAMATH, "18");
    EX("The answer is: $1,234.", BONE_GSM_METAMATH, "1234");
    EX("The answer is: -5 apples", BONE_GSM_METAMATH, "-5");
    EX("The answer is: 3/4", BONE_GSM_METAMATH, "1");    /* 0.75 rounds to 1 */
    EX("The answer is: 7/2", BONE_GSM_METAMATH, "4");    /* 3.5 → 4 under either tie rule */
    EX("The answer is: 2.6", BONE_GSM_METAMATH, "3");
    EX("The answer is: 2.4", BONE_GSM_METAMATH, "2");
    EX("The answer is: 1,234,567", BONE_GSM_METAMATH, "1234"); /* one separator only */
    EX("The answer is: 3. Wait. The answer is: 4", BONE_GSM_METAMATH, "4");
    EX("I got 5. The answer is: unknown", BONE_GSM_NONE, "");  /* marker decides: no number, wrong */
    EX("The answer is: 7 #### 9", BONE_GSM_METAMATH, "7");    /* MetaMath marker comes first */
    EX("The answer is 7", BONE_GSM_LAST, "7");                 /* no colon: not the marker */

    /* §7.2.3 GSM8K strict: first "#### (\-?[0-9\.\,]+)" */
    EX("so 3 + 4 = 7\n#### 7", BONE_GSM_STRICT, "7");
    EX("#### 1,234.00", BONE_GSM_STRICT, "1234");
    EX("#### -3", BONE_GSM_STRICT, "-3");
    EX("#### 1 and later #### 2", BONE_GSM_STRICT, "1"); /* the first */
    EX("#### 10.", BONE_GSM_STRICT, "10");
    EX("#### $5", BONE_GSM_NONE, "");                      /* '$' is not in the strict pattern */

    /* §7.2.4 last-number fallback: last -?[0-9][0-9,]*(\.[0-9]+)? */
    EX("She has 5 apples and buys 3, so 8 total.", BONE_GSM_LAST, "8");
    EX("it costs -4.5 dollars", BONE_GSM_LAST, "-4.5");
    EX("1,234 then 18.0", BONE_GSM_LAST, "18");
    EX("pay $1,234", BONE_GSM_LAST, "1234");
    EX("a fraction 3/4", BONE_GSM_LAST, "4");
    EX("total 10.", BONE_GSM_LAST, "10");
    EX("no digits at all", BONE_GSM_NONE, "");
    EX("", BONE_GSM_NONE, "");

    /* §7.3 comparison */
    EQ("18", "18", 1);
    EQ("018", "18", 1);   /* integers compare as integers */
    EQ("-0", "0", 1);
    EQ("-3", "3", 0);
    EQ("18", "18.5", 0);
    EQ("0.5", "0.50", 1); /* decimals compare as numbers */
    EQ("", "5", 0);
    EQ("12345678901234567890", "12345678901234567890", 1);
    EQ("12345678901234567890", "12345678901234567891", 0);
    EQ("abc", "abc", 1);
    {   /* extraction + gold together: 18.0 vs #### 18 */
        bone_gsm_answer p, g;
        bone_gsm8k_extract("... The answer is: 18.0", &p);
        bone_gsm8k_gold("#### 18", &g);
        if (!bone_gsm8k_equal(p.value, g.value)) { fprintf(stderr, "FAIL 18.0 vs 18\n"); fails++; }
        bone_gsm8k_extract("I think 1,234.", &p);
        bone_gsm8k_gold("#### $1,234", &g);
        if (!bone_gsm8k_equal(p.value, g.value)) { fprintf(stderr, "FAIL 1,234 vs $1,234\n"); fails++; }
    }

    /* §7.4 prompt and stop strings */
    char *pr = bone_gsm8k_prompt("What is 2+3?");
    const char *want = "Below is an instruction that describes a task. Write a response that appropriately completes "
                       "the request.\n\n### Instruction:\nWhat is 2+3?\n\n### Response: Let's think step by step.";
    if (strcmp(pr, want)) { fprintf(stderr, "FAIL prompt:\n%s\n", pr); fails++; }
    free(pr);
    pr = bone_gsm8k_prompt("100% of %s");
    if (!strstr(pr, "### Instruction:\n100% of %s\n\n")) { fprintf(stderr, "FAIL prompt with %%\n"); fails++; }
    free(pr);
    static const char *const stops[] = {"Question:", "Question", "USER:", "USER", "ASSISTANT:", "ASSISTANT",
                                        "Instruction:", "Instruction", "Response:", "Response"};
    int ns = 0;
    while (BONE_GSM8K_STOP[ns]) ns++;
    if (ns != 10) { fprintf(stderr, "FAIL %d stop strings\n", ns); fails++; }
    for (int i = 0; i < 10 && i < ns; i++)
        if (strcmp(stops[i], BONE_GSM8K_STOP[i])) { fprintf(stderr, "FAIL stop %d\n", i); fails++; }

    printf(fails ? "gsm8k: %d failures\n" : "gsm8k: all checks passed\n", fails);
    return fails ? 1 : 0;
}
