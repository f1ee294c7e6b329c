/* rope.c — rotary position embeddings, HF "rotate_half" pairing (FORMATS.md §2.5),
 * with linear and llama3 frequency scaling. Tables are computed in double, stored fp32. */
#include <math.h>
#include <stdlib.h>
#include "core/err.h"
#include "model/config.h"
#include "ops/ops.h"

void rope_build(bone_rope *r, const bone_config *c, int64_t T) {
    int64_t d = c->head_dim, half = d / 2;
    r->T = T;
    r->half = half;
    r->cos = xmalloc((size_t)(T * half + 1) * sizeof(float));
    r->sin = xmalloc((size_t)(T * half + 1) * sizeof(float));
    double *inv = xmalloc((size_t)half * sizeof(double));
    for (int64_t i = 0; i < half; i++) {
        double w = pow(c->rope_theta, -(double)(2 * i) / (double)d);
        if (c->rope_type == BONE_ROPE_LINEAR) {
            w /= c->rope_factor;
        } else if (c->rope_type == BONE_ROPE_LLAMA3) {
            double L = (double)c->rope_orig_max;
            double lam_lo = L / c->rope_low, lam_hi = L / c->rope_high;
            double lam = 2.0 * M_PI / w;
            if (lam < lam_hi) {
                /* keep */
            } else if (lam > lam_lo) {
                w /= c->rope_factor;
            } else {
                double s = (L / lam - c->rope_low) / (c->rope_high - c->rope_low);
                w = (1.0 - s) * w / c->rope_factor + s * w;
            }
        }
        inv[i] = w;
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            double phi = (double)t * inv[i];
            r->cos[t * half + i] = (float)cos(phi);
            r->sin[t * half + i] = (float)sin(phi);
        }
    free(inv);
}

void rope_free(bone_rope *r) {
    free(r->cos);
    free(r->sin);
    r->cos = r->sin = NULL;
}

static void rope_apply(float *x, const bone_rope *r, int64_t B, int64_t T, int64_t nheads, int64_t d, float sign) {
    int64_t half = d / 2;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < B * T; n++) {
        int64_t t = n % T;
        const float *cs = r->cos + t * half, *sn = r->sin + t * half;
        for (int64_t h = 0; h < nheads; h++) {
            float *p = x + (n * nheads + h) * d;
            for (int64_t i = 0; i < half; i++) {
                float x0 = p[i], x1 = p[i + half], c = cs[i], s = sign * sn[i];
                p[i] = x0 * c - x1 * s;
                p[i + half] = x1 * c + x0 * s;
            }
        }
    }
}

void rope_forward(float *x, const bone_rope *r, int64_t B, int64_t T, int64_t nheads, int64_t d) {
    rope_apply(x, r, B, T, nheads, d, 1.0f);
}

/* The rotation is orthogonal: its transpose is the rotation by −φ. */
void rope_backward(float *dx, const bone_rope *r, int64_t B, int64_t T, int64_t nheads, int64_t d) {
    rope_apply(dx, r, B, T, nheads, d, -1.0f);
}
