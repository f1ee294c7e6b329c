/* math_answer.h — MATH answer handling (data/math/README.md "How an answer is checked"): the
 * last \boxed{…} (nested braces) or \fbox{…}, else a final "The answer is" line; the textual
 * normalisation (the Hendrycks MATH rules plus PRM800K's two trimming rules, numbered 1–19 in
 * that README) and the comparison of normalised strings. Pure string functions; the evaluation
 * loop is in cli/cmd_eval_math.c. */
#ifndef BONE_EVAL_MATH_ANSWER_H
#define BONE_EVAL_MATH_ANSWER_H

/* How a predicted answer was found. */
typedef enum {
    BONE_MATH_NONE = 0, /* no answer (counts as wrong) */
    BONE_MATH_BOXED,    /* the last \boxed (or, with no \boxed, the last \fbox) */
    BONE_MATH_ANSWER_IS /* no box: the rest of the line after the last "The answer is" */
} bone_math_how;

/* Extraction rules 1–4: content of the last \boxed{…} / \fbox{…} (malloc'ed), or NULL. */
char *bone_math_last_boxed(const char *text);
/* The model's answer: the last box, else the text after the last "The answer is" (an optional
 * ':' and spaces skipped) up to the end of that line, trimmed, one trailing '.' and a pair of
 * surrounding '$' removed. Returns malloc'ed text or NULL (how = NONE). */
char *bone_math_extract(const char *text, bone_math_how *how);
/* Rules 1–19: the normalised form (malloc'ed). */
char *bone_math_normalize(const char *ans);
/* 1 iff both exist and normalise to the same string. */
int bone_math_equal(const char *pred, const char *gold);

#endif
