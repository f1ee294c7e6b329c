/* plot.c — SVG loss curves (see plot.h). Hand-written SVG: no plotting library in C is
 * worth a dependency for lines, ticks and a legend. */
#include "train/plot.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "data/dataset.h"
#include "io/json.h"

typedef struct series {
    double *x, *y;   /* train */
    double *ex, *ey; /* eval */
    int64_t n, ne;
    char label[256];
} series;

typedef struct { char *s; size_t len, cap; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int k = vsnprintf(b->s + b->len, room, fmt, ap);
        va_end(ap);
        if ((size_t)k < room) { b->len += (size_t)k; return; }
        b->cap = 2 * b->cap + (size_t)k + 64;
        b->s = xrealloc(b->s, b->cap);
    }
}

static void xml_text(sbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '<') sb_printf(b, "&lt;");
        else if (*s == '>') sb_printf(b, "&gt;");
        else if (*s == '&') sb_printf(b, "&amp;");
        else if (*s == '"') sb_printf(b, "&quot;");
        else sb_printf(b, "%c", *s);
    }
}

/* Older bone versions wrote bare nan/inf (B15, B16: "lr": nan) into metrics.jsonl, which is
 * not JSON. Copies one line with every such value token outside strings (nan, -nan, inf,
 * -inf, NaN, Infinity, -Infinity) replaced by null, counting them; the rest is untouched, so
 * any other malformation is still reported. */
static char *denan(const char *s, size_t n, int64_t *count) {
    char *o = xmalloc(2 * n + 8);
    size_t k = 0;
    int in_str = 0;
    char prev = 0; /* last non-space character outside strings */
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (in_str) {
            o[k++] = c;
            if (c == '\\' && i + 1 < n) o[k++] = s[++i];
            else if (c == '"') in_str = 0;
            i++;
            continue;
        }
        if (c == '"') { in_str = 1; o[k++] = c; i++; prev = c; continue; }
        if (prev == ':' || prev == ',' || prev == '[') {
            static const char *const words[] = {"-Infinity", "Infinity", "-inf", "inf", "-nan", "nan", "NaN", "-NaN"};
            size_t w = 0;
            for (int j = 0; j < 8 && !w; j++) {
                size_t l = strlen(words[j]);
                if (i + l <= n && !memcmp(s + i, words[j], l) &&
                    (i + l == n || strchr(" \t\r,}]", s[i + l])))
                    w = l;
            }
            if (w) {
                memcpy(o + k, "null", 4);
                k += 4;
                i += w;
                prev = 'l';
                (*count)++;
                continue;
            }
        }
        o[k++] = c;
        if (c != ' ' && c != '\t') prev = c;
        i++;
    }
    o[k] = 0;
    return o;
}

static void free_series(series *s);

static int load_series(const char *run, const char *label, const char *xkey, series *s, bone_err *e) {
    memset(s, 0, sizeof *s);
    char *path = strstr(run, ".jsonl") ? xstrdup(run) : bone_path_join(run, "metrics.jsonl");
    char *text;
    size_t n;
    int rc = bone_read_file(path, &text, &n, e);
    if (rc) { free(path); return -1; }
    int64_t cap = 1024;
    s->x = xmalloc((size_t)cap * sizeof(double));
    s->y = xmalloc((size_t)cap * sizeof(double));
    s->ex = xmalloc((size_t)cap * sizeof(double));
    s->ey = xmalloc((size_t)cap * sizeof(double));
    int64_t line = 0, skipped = 0, first_skip = 0, bare = 0;
    size_t pos = 0, a, b;
    /* bone_jsonl_next numbers lines as the file has them (blank lines included) */
    while (bone_jsonl_next(text, n, &pos, &line, &a, &b)) {
        char where[1100];
        snprintf(where, sizeof where, "%s:%lld", path, (long long)line);
        char *ln = denan(text + a, b - a, &bare);
        cJSON *o = bone_jsonl_parse(ln, strlen(ln), path, line, e);
        free(ln);
        if (!o) { rc = -1; break; }
        const cJSON *xv = cJSON_GetObjectItemCaseSensitive(o, xkey), *lv = cJSON_GetObjectItemCaseSensitive(o, "loss"),
                    *ev = cJSON_GetObjectItemCaseSensitive(o, "eval_loss");
        if (!cJSON_IsNumber(xv) || !(cJSON_IsNumber(lv) || cJSON_IsNull(lv))) {
            cJSON_Delete(o);
            rc = bone_fail(e, "%s: needs numeric \"%s\" and \"loss\"", where, xkey);
            break;
        }
        if (s->n == cap || s->ne == cap) {
            cap *= 2;
            s->x = xrealloc(s->x, (size_t)cap * sizeof(double));
            s->y = xrealloc(s->y, (size_t)cap * sizeof(double));
            s->ex = xrealloc(s->ex, (size_t)cap * sizeof(double));
            s->ey = xrealloc(s->ey, (size_t)cap * sizeof(double));
        }
        /* a non-finite point has no place on the chart (hostile-use B25): skipped, and said */
        const double xd = xv->valuedouble, yd = cJSON_IsNumber(lv) ? lv->valuedouble : NAN;
        if (isfinite(xd) && isfinite(yd)) {
            s->x[s->n] = xd;
            s->y[s->n++] = yd;
        } else if (skipped++ == 0) {
            first_skip = line;
        }
        if (cJSON_IsNumber(ev) && isfinite(ev->valuedouble) && isfinite(xd)) {
            s->ex[s->ne] = xd;
            s->ey[s->ne++] = ev->valuedouble;
        } else if (ev && !cJSON_IsNumber(ev) && !cJSON_IsNull(ev)) {
            cJSON_Delete(o);
            rc = bone_fail(e, "%s: \"eval_loss\" must be a number", where);
            break;
        } else if (ev && (!cJSON_IsNumber(ev) || !isfinite(ev->valuedouble))) {
            if (skipped++ == 0) first_skip = line;
        }
        cJSON_Delete(o);
    }
    if (rc == 0 && skipped)
        fprintf(stderr, "bone plot: %s: skipped %lld non-finite point(s) (NaN or infinite loss or %s; the first on "
                        "line %lld%s)\n", path, (long long)skipped, xkey, (long long)first_skip,
                bare ? "; written as bare nan/inf, which is not JSON, by an older bone" : "");
    free(text);
    if (rc == 0 && s->n == 0)
        rc = skipped ? bone_fail(e, "%s: no finite loss to plot (%lld non-finite point(s))", path, (long long)skipped)
                     : bone_fail(e, "%s: no steps recorded", path);
    if (rc == 0) {
        if (label) {
            snprintf(s->label, sizeof s->label, "%s", label);
        } else { /* directory name, plus the method from run.json when present */
            char *dir = xstrdup(run);
            size_t k = strlen(dir);
            while (k > 1 && dir[k - 1] == '/') dir[--k] = 0;
            const char *base = strrchr(dir, '/');
            base = base ? base + 1 : dir;
            snprintf(s->label, sizeof s->label, "%s", base);
            char *rj = bone_path_join(dir, "run.json");
            bone_err ig;
            cJSON *r = bone_file_exists(rj) ? bone_json_load_object(rj, &ig) : NULL;
            const cJSON *mv = r ? cJSON_GetObjectItemCaseSensitive(r, "method") : NULL;
            if (cJSON_IsString(mv) && strcmp(mv->valuestring, base))
                snprintf(s->label, sizeof s->label, "%s (%s)", base, mv->valuestring);
            cJSON_Delete(r);
            free(rj);
            free(dir);
        }
    }
    free(path);
    if (rc) free_series(s); /* the caller frees only the series loaded before this one */
    return rc;
}

static void free_series(series *s) {
    free(s->x);
    free(s->y);
    free(s->ex);
    free(s->ey);
}

/* a "nice" tick step (1, 2, 5 × 10^k) giving about n ticks over span */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

int bone_plot_runs(const char *const *runs, const char *const *labels, int n, const bone_plot_opts *o,
                   const char *out_svg, bone_err *e) {
    const char *xkey = (o && o->x && !strcmp(o->x, "tokens")) ? "tokens" : "step";
    int logy = o && o->log_y;
    series *S = xcalloc((size_t)n, sizeof *S);
    int rc = -1;
    for (int i = 0; i < n; i++)
        if (load_series(runs[i], labels ? labels[i] : NULL, xkey, &S[i], e)) {
            for (int j = 0; j < i; j++) free_series(&S[j]);
            free(S);
            return -1;
        }
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        for (int64_t k = 0; k < S[i].n; k++) {
            double y = S[i].y[k];
            if (!isfinite(y) || (logy && y <= 0)) continue;
            x0 = fmin(x0, S[i].x[k]); x1 = fmax(x1, S[i].x[k]);
            y0 = fmin(y0, y); y1 = fmax(y1, y);
        }
        for (int64_t k = 0; k < S[i].ne; k++) {
            double y = S[i].ey[k];
            if (!isfinite(y) || (logy && y <= 0)) continue;
            y0 = fmin(y0, y); y1 = fmax(y1, y);
        }
    }
    if (!(x1 > x0)) { x0 -= 0.5; x1 += 0.5; }
    if (!(y1 > y0)) { y0 -= 0.5; y1 += 0.5; }
    if (logy) { y0 = log10(y0); y1 = log10(y1); }
    /* spans are taken as (hi/2 - lo/2): hi - lo overflows to inf for losses near ±1e308 (B25) */
    double pad = 0.1 * (y1 / 2 - y0 / 2);
    y0 -= pad;
    y1 += pad;
    const double W = 800, H = 500, L = 70, R = 20, T = 40, B = 60;
    const double pw = W - L - R, ph = H - T - B;
#define PX(v) (L + ((v) / 2 - x0 / 2) / (x1 / 2 - x0 / 2) * pw)
#define PY(v) (T + ph - ((logy ? log10(v) : (v)) / 2 - y0 / 2) / (y1 / 2 - y0 / 2) * ph)
    sbuf b = {xmalloc(4096), 0, 4096};
    sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
              W, H, W, H);
    sb_printf(&b, "<text x=\"%.0f\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">", W / 2);
    xml_text(&b, o && o->title ? o->title : "training loss");
    sb_printf(&b, "</text>\n");
    /* grid and ticks */
    double xs = nice_step(x1 / 2 - x0 / 2, 4);
    for (double v = ceil(x0 / xs) * xs; v <= x1 + 1e-9 * xs; v += xs) {
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", PX(v), T, PX(v), T + ph);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(v), T + ph + 18, v);
    }
    double ys = nice_step(y1 / 2 - y0 / 2, 3);
    for (double v = ceil(y0 / ys) * ys; v <= y1 + 1e-9 * ys; v += ys) {
        double py = T + ph - (v / 2 - y0 / 2) / (y1 / 2 - y0 / 2) * ph;
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", L, py, L + pw, py);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", L - 6, py + 4,
                  logy ? pow(10, v) : v);
    }
    sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", L, T, pw, ph);
    sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", L + pw / 2, H - 18,
              strcmp(xkey, "tokens") ? "optimizer step" : "tokens");
    sb_printf(&b, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">loss%s</text>\n", T + ph / 2,
              logy ? " (log scale)" : "");
    /* curves */
    for (int i = 0; i < n; i++) {
        const char *col = palette[i % 10];
        sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", col);
        for (int64_t k = 0; k < S[i].n; k++)
            if (isfinite(S[i].y[k]) && (!logy || S[i].y[k] > 0)) sb_printf(&b, "%.1f,%.1f ", PX(S[i].x[k]), PY(S[i].y[k]));
        sb_printf(&b, "\"/>\n");
        if (S[i].ne) {
            sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-dasharray=\"6 4\" points=\"", col);
            for (int64_t k = 0; k < S[i].ne; k++) sb_printf(&b, "%.1f,%.1f ", PX(S[i].ex[k]), PY(S[i].ey[k]));
            sb_printf(&b, "\"/>\n");
            for (int64_t k = 0; k < S[i].ne; k++)
                sb_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", PX(S[i].ex[k]), PY(S[i].ey[k]), col);
        }
    }
    /* legend */
    double ly = T + 12;
    for (int i = 0; i < n; i++) {
        const char *col = palette[i % 10];
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                  L + pw - 230, ly, L + pw - 205, ly, col);
        sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\">", L + pw - 200, ly + 4);
        xml_text(&b, S[i].label);
        sb_printf(&b, "%s</text>\n", S[i].ne ? " (dashed: eval)" : "");
        ly += 16;
    }
    sb_printf(&b, "</svg>\n");
#undef PX
#undef PY
    rc = bone_write_file_atomic(out_svg, b.s, b.len, e);
    free(b.s);
    for (int i = 0; i < n; i++) free_series(&S[i]);
    free(S);
    return rc;
}
