/* arith.h — a seeded generator of arithmetic word problems with exact integer answers: a task a
 * small model can learn, so that small-scale comparisons report accuracy and not only loss.
 * Four levels (1: one addition or subtraction of small numbers; 2: one multiplication or exact
 * division; 3: two steps; 4: three steps, larger numbers), several templates per level, names
 * and objects drawn from short lists. Answers are worked in GSM8K style ("... = N ...", last line
 * "#### N"), so the GSM8K training path (--format gsm8k, --template alpaca) and the GSM8K answer
 * extraction apply unchanged.
 * Train/test split by content: a problem belongs to the test split iff a hash of its question
 * text falls in bucket 0 of 10, so no question of one split ever appears in the other, whatever
 * the seeds; within a split, problem i of seed s is fixed. */
#ifndef BONE_EVAL_ARITH_H
#define BONE_EVAL_ARITH_H
#include <stdint.h>

#define BONE_ARITH_LEVELS 4

typedef struct bone_arith_item {
    int level;           /* 1..4 */
    int64_t value;       /* the exact answer */
    char question[400];
    char answer[400];    /* worked steps, then "#### value" */
} bone_arith_item;

/* Problem `index` of split (0 = train, 1 = test) for seed; level 1..4, or 0 for a level drawn
 * uniformly per problem. */
void bone_arith_problem(uint64_t seed, int split, int64_t index, int level, bone_arith_item *it);
/* 1 when question belongs to the test split */
int bone_arith_is_test(const char *question);

#endif
