/* plot.h — loss curves as SVG: train loss (solid) and eval loss (dashed, with markers)
 * against optimizer step or tokens, for one or several runs on one chart with a legend —
 * the paper's Figure 3 for your own runs. Reads each run's metrics.jsonl. */
#ifndef BONE_TRAIN_PLOT_H
#define BONE_TRAIN_PLOT_H
#include "core/err.h"

typedef struct bone_plot_opts {
    const char *x;      /* "step" (default) or "tokens" */
    const char *title;  /* NULL: "training loss" */
    int log_y;          /* logarithmic loss axis */
} bone_plot_opts;

/* runs[i] is a run directory (or a metrics.jsonl path); labels[i] may be NULL (then the
 * directory name and its method). Writes out_svg atomically. */
int bone_plot_runs(const char *const *runs, const char *const *labels, int n, const bone_plot_opts *o,
                   const char *out_svg, bone_err *e);

#endif
