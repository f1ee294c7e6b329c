/* optim.c — AdamW, clipping and schedules (see optim.h). */
#include "train/optim.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"

double bone_lr_factor(bone_schedule s, int64_t i, int64_t warmup, int64_t total) {
    if (warmup > 0 && i < warmup) return (double)i / (double)warmup;
    double span = (double)(total - warmup > 1 ? total - warmup : 1);
    switch (s) {
    case BONE_SCHED_CONSTANT: return 1.0;
    case BONE_SCHED_LINEAR: {
        double f = (double)(total - i) / span;
        return f > 0 ? f : 0.0;
    }
    case BONE_SCHED_COSINE: {
        double progress = (double)(i - warmup) / span;
        double f = 0.5 * (1.0 + cos(M_PI * progress));
        return f > 0 ? f : 0.0;
    }
    }
    return 1.0;
}

int bone_schedule_parse(const char *name, bone_schedule *out) {
    if (!strcmp(name, "constant")) *out = BONE_SCHED_CONSTANT;
    else if (!strcmp(name, "linear")) *out = BONE_SCHED_LINEAR;
    else if (!strcmp(name, "cosine")) *out = BONE_SCHED_COSINE;
    else return -1;
    return 0;
}

/* Elements per partial sum of the gradient norm: each block is summed by one thread with
 * the same vectorised code whichever thread it is, and the block sums are added in block
 * order, so the norm is a function of the gradients alone, not of the thread count or the
 * schedule. 64 KiB of floats: long enough to amortise the loop, ~3.5k blocks on "small". */
#define NORM_BLOCK 16384

/* the clip coefficient the next AdamW step applies (1 when none is pending) */
static float pending_coef(const bone_params *P) { return P->clip_pending ? P->clip_coef : 1.0f; }

double bone_grad_norm(const bone_params *P) {
    /* one threaded pass over the whole buffer (it was a serial, scalar per-tensor loop); the
     * 16-float gaps between tensors hold zeros (never written) and add nothing */
    const int64_t n = P->total, nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    if (nb <= 0 || !P->grad) return 0.0;
    const float c = pending_coef(P), *g = P->grad;
    double *part = xmalloc((size_t)nb * sizeof *part);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t i0 = b * NORM_BLOCK, i1 = i0 + NORM_BLOCK < n ? i0 + NORM_BLOCK : n;
        double s = 0.0;
        /* the clipped gradient is the float product g·c, exactly as the optimizer forms it */
#pragma omp simd reduction(+ : s)
        for (int64_t i = i0; i < i1; i++) {
            const double x = (double)(g[i] * c);
            s += x * x;
        }
        part[b] = s;
    }
    double total = 0.0;
    for (int64_t b = 0; b < nb; b++) total += part[b];
    free(part);
    return sqrt(total);
}

double bone_clip_grad(bone_params *P, double max_norm) {
    double norm = bone_grad_norm(P);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        /* torch clamps the coefficient to 1; multiplying by 1 would change nothing. Folded
         * into bone_adamw_step instead of a pass of its own: torch's grad.mul_(clip_coef) is
         * the float product g·(float)coef, which the optimizer forms from the same operands.
         * A coefficient already pending (a second clip) composes as torch's would: this
         * norm was of the clipped gradients, and the products are formed in sequence. */
        if (coef < 1.0) {
            if (P->clip_pending) {
#pragma omp parallel for simd schedule(static)
                for (int64_t i = 0; i < P->total; i++) P->grad[i] *= P->clip_coef;
            }
            P->clip_pending = 1;
            P->clip_coef = (float)coef;
        }
    }
    return norm;
}

void bone_adamw_step(bone_adamw *o, bone_params *P, double lr) {
    o->t++;
    bone_adamw_update(o, P, lr, 0, P->total, P->m, P->v);
    P->clip_pending = 0; /* consumed */
    P->clip_coef = 1.0f;
}

void bone_adamw_update(const bone_adamw *o, bone_params *P, double lr, int64_t lo, int64_t hi, float *m, float *v) {
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2), eps = (float)o->eps;
    const float decay = (float)(1.0 - lr * o->weight_decay);
    const float c = pending_coef(P); /* ·1 is exact: without a pending clip g is used as is */
    float *p = P->value + lo;
    const float *g = P->grad + lo;
    const int64_t n = hi - lo;
    /* One pass over the four buffers, memory-bound once vectorised: `omp simd` needs sqrtf
     * without errno, which CMakeLists.txt sets for this file (-fno-math-errno); with errno
     * GCC keeps the loop scalar, 2-3x slower. The operations and their order are torch's
     * (and those of the scalar loop this replaced); ISO C mode (-std=c11) implies
     * -ffp-contract=off, so nothing is fused into an FMA and every element is bit-identical
     * whatever the vector width or the thread split. */
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float gi = g[i] * c;                        // clipped gradient (clip_grad_norm_)
        p[i] *= decay;                                    // decoupled weight decay
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
    }
}
