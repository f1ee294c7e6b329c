/* progress.c — the live progress line / plain progress lines (see progress.h). */
#include "train/progress.h"
#include <unistd.h>

void bone_progress_init(bone_progress *p, FILE *out, int quiet, int64_t first_step, int64_t total_steps,
                        double elapsed0, int64_t tokens0) {
    p->out = out;
    p->tty = isatty(fileno(out));
    p->quiet = quiet;
    p->total = total_steps;
    p->first = first_step;
    p->every = 10;
    p->ema = 0;
    p->ema_w = 0;
    p->t_start = elapsed0;
    p->tok_start = tokens0;
    p->drawn = 0;
}

static void hms(double s, char *buf, size_t cap) {
    if (s < 0 || s > 1e7) { snprintf(buf, cap, "--:--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

void bone_progress_step(bone_progress *p, int64_t step, double loss, double lr, int64_t tokens, double elapsed,
                        double rss_mib, double eval_loss) {
    p->ema = 0.9 * p->ema + 0.1 * loss;
    p->ema_w = 0.9 * p->ema_w + 0.1;
    if (p->quiet) return;
    double smooth = p->ema / p->ema_w;
    double run = elapsed - p->t_start;
    double tps = run > 0 ? (double)(tokens - p->tok_start) / run : 0;
    int64_t done = step - p->first;
    double eta = done > 0 ? run / (double)done * (double)(p->total - step) : -1;
    char el[32], et[32], ev[48] = "";
    hms(elapsed, el, sizeof el);
    hms(eta, et, sizeof et);
    if (eval_loss >= 0) snprintf(ev, sizeof ev, "  eval %.4f", eval_loss);
    if (p->tty) {
        fprintf(p->out, "\r\033[Kstep %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  %s elapsed  ETA %s  %.0f MiB%s",
                (long long)step, (long long)p->total, smooth, lr, tps, el, et, rss_mib, ev);
        p->drawn = 1;
        if (step == p->total || eval_loss >= 0) {
            fputc('\n', p->out);
            p->drawn = 0;
        }
        fflush(p->out);
        return;
    }
    if (step == p->first + 1 || step == p->total || step % p->every == 0 || eval_loss >= 0)
        fprintf(p->out, "step %lld/%lld  loss %.4f (smoothed %.4f)  lr %.3g  %.0f tok/s  elapsed %s  ETA %s  %.0f MiB%s\n",
                (long long)step, (long long)p->total, loss, smooth, lr, tps, el, et, rss_mib, ev);
}

void bone_progress_break(bone_progress *p) {
    if (p->drawn) {
        fputc('\n', p->out);
        p->drawn = 0;
    }
}
