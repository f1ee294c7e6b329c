/* cmd_plot.c — `bone plot`: loss curves of one or more runs as an SVG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cmds.h"
#include "cli/samefile.h"
#include "core/fs.h"
#include "train/plot.h"

static const char *USAGE =
    "RUN [RUN...] --out FILE.svg [--x step|tokens] [--title T] [--log]\n\n"
    "Train loss (solid) and eval loss (dashed) of each run directory's metrics.jsonl on one\n"
    "chart with a legend. A RUN may also be a metrics.jsonl path; NAME=RUN sets its label.\n\n"
    "example (two runs of `bone train`: bone plot runs/bone-col runs/lora --out compare.svg):\n"
    "  bone plot default=models/default/pretrain-metrics.jsonl --out pretrain.svg --x tokens";

#define MAX_RUNS 64

int cmd_plot(int argc, char **argv) {
    const char *out = NULL, *x = "step", *title = NULL;
    int logy = 0;
    bone_opt opts[] = {
        {"out", OPT_STR, &out, "SVG file to write (required)", 0},
        {"x", OPT_STR, &x, "x axis: step (default) or tokens", 0},
        {"title", OPT_STR, &title, "chart title", 0},
        {"log", OPT_FLAG, &logy, "logarithmic loss axis", 0},
        {NULL, 0, NULL, NULL, 0},
    };
    const char *pos[MAX_RUNS];
    int npos;
    int r = bone_args_parse("plot", USAGE, opts, argc, argv, pos, MAX_RUNS, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!out || npos == 0) return bone_usage_error("plot", "give at least one RUN and --out FILE.svg");
    if (strcmp(x, "step") && strcmp(x, "tokens")) return bone_usage_error("plot", "--x must be step or tokens");
    const char *runs[MAX_RUNS], *labels[MAX_RUNS];
    char lab[MAX_RUNS][128];
    for (int i = 0; i < npos; i++) { /* NAME=RUN */
        const char *eq = strchr(pos[i], '=');
        if (eq && (size_t)(eq - pos[i]) < sizeof lab[0]) {
            snprintf(lab[i], sizeof lab[i], "%.*s", (int)(eq - pos[i]), pos[i]);
            labels[i] = lab[i];
            runs[i] = eq + 1;
        } else {
            labels[i] = NULL;
            runs[i] = pos[i];
        }
    }
    for (int i = 0; i < npos; i++) { /* the run's metrics, read the way plot.c reads them */
        char *mp = strstr(runs[i], ".jsonl") ? xstrdup(runs[i]) : bone_path_join(runs[i], "metrics.jsonl");
        int same = bone_same_file(out, mp) || bone_same_file(out, runs[i]);
        if (same) {
            int rc = bone_usage_error("plot", "--out %s is %s, the metrics of the input RUN %s: the SVG would "
                                              "replace them; choose another --out", out, mp, runs[i]);
            free(mp);
            return rc;
        }
        free(mp);
    }
    bone_plot_opts po = {x, title, logy};
    bone_err e;
    if (bone_plot_runs(runs, labels, npos, &po, out, &e)) {
        fprintf(stderr, "bone plot: %s\n", e.msg);
        return BONE_EXIT_RUNTIME;
    }
    printf("wrote %s\n", out);
    return 0;
}
