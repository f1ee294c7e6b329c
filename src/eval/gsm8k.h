/* gsm8k.h — GSM8K-style answer handling (FORMATS.md §7): the zero-shot prompt, the stop
 * strings, gold extraction, prediction extraction (MetaMath "The answer is: ", then GSM8K
 * "#### ", then the last number), normalisation and comparison. Pure string functions: the
 * evaluation loop itself is in cli/cmd_eval.c. */
#ifndef BONE_EVAL_GSM8K_H
#define BONE_EVAL_GSM8K_H
#include <stddef.h>

/* How a prediction's answer was found. */
typedef enum {
    BONE_GSM_NONE = 0,  /* no answer (counts as wrong) */
    BONE_GSM_METAMATH,  /* after the last "The answer is: " (fractions evaluated, rounded to an integer) */
    BONE_GSM_STRICT,    /* the first "#### (-?[0-9.,]+)" */
    BONE_GSM_LAST,      /* neither marker: the last -?[0-9][0-9,]*(\.[0-9]+)? */
} bone_gsm_how;

#define BONE_GSM_MAXLEN 128

typedef struct bone_gsm_answer {
    bone_gsm_how how;
    char value[BONE_GSM_MAXLEN]; /* normalised (§7.3); "" when how == NONE */
} bone_gsm_answer;

/* The §7.4 stop strings, NULL-terminated. */
extern const char *const BONE_GSM8K_STOP[];
/* The zero-shot prompt for a question: the Alpaca prompt + " Let's think step by step."
 * (malloc'ed). */
char *bone_gsm8k_prompt(const char *question);

/* §7.3 normalisation of n bytes of s into out (NUL-terminated, truncated to cap-1): delete ','
 * and '$', strip surrounding whitespace and one trailing '.', strip a leading '+', and turn
 * -?D+.0+ into its integer part. */
void bone_gsm8k_normalise(const char *s, size_t n, char *out, size_t cap);
/* Gold: the text after the last "#### ", stripped and normalised. -1 if there is no "#### ". */
int bone_gsm8k_gold(const char *answer, bone_gsm_answer *a);
/* Prediction from generated text (a->how says which rule applied; NONE = no answer). A marker
 * that is present decides: "The answer is: " without a number after it gives NONE, it does not
 * fall through to "#### " or the last number. */
void bone_gsm8k_extract(const char *text, bone_gsm_answer *a);
/* 1 when a normalised prediction equals a normalised gold: exact integers when both are
 * integral, else as decimal numbers, else as strings. An empty prediction is never correct. */
int bone_gsm8k_equal(const char *pred, const char *gold);

#endif
