/* optim.c — AdamW, clipping and schedules (see optim.h). */
#include "train/optim.h"
#include <math.h>
#include <omp.h>
#include <string.h>

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

double bone_grad_norm(const bone_params *P) {
    /* per-tensor sums in double, then added in tensor order: independent of thread count */
    double total = 0.0;
    for (int64_t k = 0; k < P->n; k++) {
        const float *g = P->grad + P->p[k].offset;
        int64_t n = P->p[k].numel;
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)g[i] * g[i];
        total += s;
    }
    return sqrt(total);
}

double bone_clip_grad(bone_params *P, double max_norm) {
    double norm = bone_grad_norm(P);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float c = (float)coef;
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < P->total; i++) P->grad[i] *= c;
        }
    }
    return norm;
}

void bone_adamw_step(bone_adamw *o, bone_params *P, double lr) {
    o->t++;
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float step = (float)(lr / bc1), sbc2 = (float)sqrt(bc2), eps = (float)o->eps;
    const float decay = (float)(1.0 - lr * o->weight_decay);
    float *p = P->value, *g = P->grad, *m = P->m, *v = P->v;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < P->total; i++) {
        p[i] *= decay;                                   // decoupled weight decay
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
    }
}
