/* arith.c — the seeded arithmetic word-problem generator (see arith.h). */
#include "eval/arith.h"
#include <stdio.h>
#include <string.h>
#include "core/rng.h"

static const char *const NAMES[] = {"Tom", "Sara", "Ben", "Mia", "Leo", "Ana", "Sam", "Eva", "Max", "Zoe", "Ivan", "Lily"};
static const char *const THINGS[] = {"apples", "marbles", "stickers", "books", "pencils", "cookies", "stamps", "shells"};
#define NNAMES (int64_t)(sizeof NAMES / sizeof *NAMES)
#define NTHINGS (int64_t)(sizeof THINGS / sizeof *THINGS)

/* uniform integer in [lo, hi] */
static int64_t uni(bone_rng *r, int64_t lo, int64_t hi) { return lo + (int64_t)(bone_rng_u64(r) % (uint64_t)(hi - lo + 1)); }

int bone_arith_is_test(const char *q) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64, then mixed */
    for (const unsigned char *p = (const unsigned char *)q; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return bone_mix64(h) % 10 == 0;
}

/* one candidate problem from r */
static void draw(bone_rng *r, int level, bone_arith_item *it) {
    const char *n = NAMES[uni(r, 0, NNAMES - 1)], *t = THINGS[uni(r, 0, NTHINGS - 1)];
    int tpl = (int)uni(r, 0, 1);
    int64_t a, b, c, d, v;
    char *q = it->question, *s = it->answer;
    size_t qc = sizeof it->question, sc = sizeof it->answer;
    it->level = level;
    switch (level) {
    case 1:
        a = uni(r, 2, 20);
        b = uni(r, 1, 19);
        if (tpl == 0) {
            v = a + b;
            snprintf(q, qc, "%s has %lld %s. %s gets %lld more. How many %s does %s have now?", n, (long long)a, t, n,
                     (long long)b, t, n);
            snprintf(s, sc, "%s has %lld + %lld = %lld %s.\n#### %lld", n, (long long)a, (long long)b, (long long)v, t,
                     (long long)v);
        } else {
            if (b > a) { int64_t x = a; a = b; b = x; }
            v = a - b;
            snprintf(q, qc, "%s had %lld %s and gave %lld away. How many %s are left?", n, (long long)a, t, (long long)b, t);
            snprintf(s, sc, "%s has %lld - %lld = %lld %s left.\n#### %lld", n, (long long)a, (long long)b, (long long)v, t,
                     (long long)v);
        }
        break;
    case 2:
        a = uni(r, 2, 12);
        b = uni(r, 2, 12);
        v = a * b;
        if (tpl == 0) {
            snprintf(q, qc, "A box holds %lld %s. How many %s are in %lld boxes?", (long long)a, t, t, (long long)b);
            snprintf(s, sc, "%lld boxes hold %lld * %lld = %lld %s.\n#### %lld", (long long)b, (long long)b, (long long)a,
                     (long long)v, t, (long long)v);
        } else {
            snprintf(q, qc, "%s shares %lld %s equally among %lld friends. How many %s does each friend get?", n,
                     (long long)v, t, (long long)b, t);
            snprintf(s, sc, "Each friend gets %lld / %lld = %lld %s.\n#### %lld", (long long)v, (long long)b, (long long)a,
                     t, (long long)a);
            v = a;
        }
        break;
    case 3:
        a = uni(r, 2, 30);
        b = uni(r, 2, 9);
        c = uni(r, 2, 9);
        if (tpl == 0) {
            v = a + b * c;
            snprintf(q, qc, "%s has %lld %s. %s buys %lld bags with %lld %s in each. How many %s does %s have now?", n,
                     (long long)a, t, n, (long long)b, (long long)c, t, t, n);
            snprintf(s, sc, "The bags hold %lld * %lld = %lld %s.\n%s has %lld + %lld = %lld %s.\n#### %lld", (long long)b,
                     (long long)c, (long long)(b * c), t, n, (long long)a, (long long)(b * c), (long long)v, t, (long long)v);
        } else {
            d = b * c + uni(r, 0, 40); /* the bill covers the price */
            v = d - b * c;
            snprintf(q, qc, "A pen costs %lld dollars. %s buys %lld pens and pays with %lld dollars. How much change "
                            "does %s get?", (long long)c, n, (long long)b, (long long)d, n);
            snprintf(s, sc, "The pens cost %lld * %lld = %lld dollars.\nThe change is %lld - %lld = %lld dollars.\n#### %lld",
                     (long long)b, (long long)c, (long long)(b * c), (long long)d, (long long)(b * c), (long long)v,
                     (long long)v);
        }
        break;
    default:
        a = uni(r, 2, 20);
        b = uni(r, 3, 25);
        c = uni(r, 2, 20);
        if (tpl == 0) {
            d = uni(r, 1, (a + c) * b - 1);
            v = (a + c) * b - d;
            snprintf(q, qc, "A farm has %lld rows of %lld trees. %lld more rows of %lld trees are planted, then %lld "
                            "trees die. How many trees are there now?", (long long)a, (long long)b, (long long)c,
                     (long long)b, (long long)d);
            snprintf(s, sc, "There are %lld + %lld = %lld rows.\nThey hold %lld * %lld = %lld trees.\n%lld - %lld = %lld "
                            "trees are left.\n#### %lld", (long long)a, (long long)c, (long long)(a + c),
                     (long long)(a + c), (long long)b, (long long)((a + c) * b), (long long)((a + c) * b), (long long)d,
                     (long long)v, (long long)v);
        } else {
            d = uni(r, 2, 6);
            v = (a * b + c) * d;
            snprintf(q, qc, "%s reads %lld pages a day for %lld days, then %lld more pages. %s does this %lld times. "
                            "How many pages does %s read in total?", n, (long long)a, (long long)b, (long long)c, n,
                     (long long)d, n);
            snprintf(s, sc, "One time is %lld * %lld + %lld = %lld pages.\n%lld times is %lld * %lld = %lld pages.\n#### "
                            "%lld", (long long)a, (long long)b, (long long)c, (long long)(a * b + c), (long long)d,
                     (long long)(a * b + c), (long long)d, (long long)v, (long long)v);
        }
        break;
    }
    it->value = v;
}

void bone_arith_problem(uint64_t seed, int split, int64_t index, int level, bone_arith_item *it) {
    bone_rng r = bone_rng_seed(seed, 0xA417u + (uint64_t)index * 2 + (uint64_t)(split != 0));
    for (;;) {
        int lv = level >= 1 && level <= BONE_ARITH_LEVELS ? level : (int)uni(&r, 1, BONE_ARITH_LEVELS);
        draw(&r, lv, it);
        if (bone_arith_is_test(it->question) == (split != 0)) return;
    }
}
