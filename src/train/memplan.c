/* memplan.c — the memory plan (see memplan.h). Activations and the loss's working memory
 * are the sizes model/step.c and ops/xent.c allocate (their own size functions); the
 * attention and adapter scratch mirror ops/attention.c and the adapters; the test
 * (tests/cli/test_memplan.sh) holds the estimate to within 15% of the measured peak RSS. */
#include "train/memplan.h"
#include "model/arch.h"
#include "adapter/adapter.h"
#include "ops/ops.h"
#include "train/dist.h"
#include <stdlib.h>
#include <string.h>

static void add(bone_memplan *p, const char *name, double bytes) {
    p->name[p->n] = name;
    p->bytes[p->n] = bytes;
    p->n++;
    p->total += bytes;
}

void bone_memplan_compute(bone_memplan *p, bone_model *m, int64_t trainable, int full, int64_t B, int64_t T,
                          const bone_dataset *d, int threads, int recompute) {
    memset(p, 0, sizeof *p);
    const bone_config *c = &m->cfg;
    /* weights: every mapped byte is touched by a training step — except in full
     * fine-tuning, where bone_model_make_trainable copies each weight into the parameter
     * buffer and drops its mapped pages at once (only the copies count, below) */
    double wbytes = 0;
    for (int i = 0; i < m->st.nfiles; i++) wbytes += (double)m->st.files[i].size;
    if (full) add(p, "model weights (mapped; released after the fp32 copy)", 0.0);
    else add(p, "model weights (mapped)", wbytes);
    /* trainable values, gradients, AdamW m and v: 16 bytes per element */
    add(p, full ? "trainable (fp32 copy + grad + Adam m, v)" : "adapter params (+ grad + Adam m, v)",
        16.0 * (double)trainable);
    /* PiSSA/OLoRA residual bases and full's fp32 working copies of small vectors */
    double side = 0, max_oi = 0, gtile = 0;
    int any_low = 0;
    for (int64_t i = 0; i < bone_model_nlinears(m); i++) {
        bone_linear *Ln = bone_model_linear(m, i);
        double oi = (double)(Ln->O * Ln->I);
        if (oi > max_oi) max_oi = oi;
        if (Ln->w.dtype != BONE_F32 || Ln->ops) any_low = 1;
        if ((double)bone_g_tile_floats(Ln) > gtile) gtile = (double)bone_g_tile_floats(Ln); /* adapter/bone.c */
        if (Ln->ops && (!strcmp(Ln->ops->name, "pissa") || !strcmp(Ln->ops->name, "olora")))
            side += 4.0 * oi + 8.0 * (double)(Ln->O + Ln->I) * 8; /* residual + A0/B0 (rank ≤ 64 estimate) */
    }
    if (side > 0) add(p, "PiSSA/OLoRA residual bases", side);
    /* activations and backward scratch (model/step.c); the cross-entropy's working memory
     * (chunk of logits, a 16-bit head's fp32 tile) is lent the backward scratch and only
     * its growth beyond it is extra, counted with the scratch below */
    /* B·T beyond what any machine holds would overflow the size functions below (int64 and
     * size_t products of B·T·H or B·T·V): plan it as too large instead of computing it */
    if (B < 1 || T < 1 || (double)B * (double)T * ((double)c->hidden + (double)c->vocab + (double)c->inter) > 1e15) {
        add(p, "activations (batch × length far too large to plan)", 1e18);
        return;
    }
    const int layout = recompute ? 2 : 1;
    const size_t xe = xent_ws_floats(B * T, c->hidden, c->vocab, m->lm_head.dtype, full);
    const double acts = 4.0 * (double)bone_acts_floats(c, B, T, layout, 0);
    add(p, recompute ? "activations (recomputed in backward)" : "activations", acts);
    /* scratch: one weight-sized buffer (bf16→fp32 view or Bone's W'), the G tile, the
     * lm_head fp32 view when stored in 16 bits, the cross-entropy chunk, attention blocks */
    double scratch = 4.0 * (double)bone_acts_floats(c, B, T, layout, xe) - acts;
    if (any_low && !full) scratch += 4.0 * max_oi;
    scratch += 4.0 * gtile;                                             /* the largest Bone G tile */
    scratch += 4.0 * (double)threads * (double)bone_arch_cfg(c)->mixer_ws_floats(c, T); /* attention, per thread */
    add(p, "scratch (W'/bf16 view, G tile, xent chunk beyond lent, attention)", scratch);
    double tokens = 0;
    for (int64_t i = 0; i < d->n; i++) tokens += (double)d->ex[i].n;
    add(p, "data set", 8.0 * tokens + 32.0 * (double)d->n);
    /* libraries, OpenBLAS buffers, allocator slack: measured ~20 MiB for small models */
    add(p, "process baseline", 20.0 * 1024 * 1024);
}

void bone_memplan_dist(bone_memplan *p, int64_t trainable, int full, int world, int writer) {
    if (world <= 1) return;
    const double n = (double)trainable;
    if (full) {
        for (int i = 0; i < p->n; i++) /* 16 bytes per element become 8 + 8/world */
            if (!strncmp(p->name[i], "trainable", 9)) {
                double was = p->bytes[i], now = 8.0 * n + 8.0 * n / world;
                p->name[i] = "trainable (fp32 copy + grad; Adam m, v sharded 1/N: ZeRO-1)";
                p->bytes[i] = now;
                p->total += now - was;
            }
        if (writer && p->n < BONE_PLAN_ITEMS) add(p, "ZeRO-1 moments gathered for a checkpoint (rank 0)", 8.0 * n);
    }
    const double chunk = (double)(n < (double)BONE_DIST_CHUNK ? n : (double)BONE_DIST_CHUNK);
    if (p->n < BONE_PLAN_ITEMS) add(p, "all-reduce scratch (one chunk / N)", 4.0 * chunk / world);
}

void bone_memplan_print(const bone_memplan *p, FILE *f) {
    fprintf(f, "memory plan:\n");
    for (int i = 0; i < p->n; i++) fprintf(f, "  %-56s %10.1f MiB\n", p->name[i], p->bytes[i] / 1048576.0);
    fprintf(f, "  %-56s %10.1f MiB\n", "total (estimated peak)", p->total / 1048576.0);
}

double bone_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "MemAvailable:", 13)) {
            kb = strtod(line + 13, NULL);
            break;
        }
    fclose(f);
    return kb * 1024.0;
}
