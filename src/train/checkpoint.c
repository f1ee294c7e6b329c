/* checkpoint.c — atomic, checksummed training checkpoints (see checkpoint.h). */
#include "train/checkpoint.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/fs.h"
#include "io/safetensors.h"

#define HASH_KEY "bone_data_fnv1a64"
/* the header's checksum: every bone_* metadata entry and every tensor's name and shape, so a
 * flipped bit in the step, a setting or a shape is caught like one in the data */
#define META_KEY "bone_meta_fnv1a64"
#define RUN_KEY "bone_set_run"


static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* meta = {key, value, ..., NULL} (only bone_* keys count, the two checksums excepted);
 * tensors = names and shapes. The order of either does not matter. */
static uint64_t header_hash(const char *const *meta, int64_t nt, const char *const *tnames, const int *ndims,
                            const int64_t (*shapes)[BONE_ST_MAX_DIMS]) {
    int nm = 0;
    while (meta[nm]) nm += 2;
    const char **keys = xcalloc((size_t)nm / 2 + 1, sizeof *keys);
    int nk = 0;
    for (int i = 0; i < nm; i += 2)
        if (!strncmp(meta[i], "bone_", 5) && strcmp(meta[i], HASH_KEY) && strcmp(meta[i], META_KEY)) keys[nk++] = meta[i];
    qsort(keys, (size_t)nk, sizeof *keys, cmp_str);
    uint64_t h = BONE_FNV1A64_INIT;
    for (int k = 0; k < nk; k++) {
        const char *v = NULL;
        for (int i = 0; i < nm && !v; i += 2)
            if (!strcmp(meta[i], keys[k])) v = meta[i + 1];
        h = bone_fnv1a64(h, keys[k], strlen(keys[k]) + 1);
        h = bone_fnv1a64(h, v, strlen(v) + 1);
    }
    free(keys);
    uint64_t th = 0; /* XOR of per-tensor hashes: independent of the order */
    for (int64_t i = 0; i < nt; i++) {
        uint64_t x = bone_fnv1a64(BONE_FNV1A64_INIT, tnames[i], strlen(tnames[i]) + 1);
        int64_t dims[1 + BONE_ST_MAX_DIMS] = {ndims[i]};
        for (int d = 0; d < ndims[i]; d++) dims[1 + d] = shapes[i][d];
        th ^= bone_fnv1a64(x, dims, (size_t)(1 + ndims[i]) * sizeof(int64_t));
    }
    return bone_fnv1a64(h, &th, sizeof th);
}

static uint64_t header_hash_of(const bone_st_set *s) {
    const bone_st_file *f = &s->files[0];
    const char **meta = xcalloc((size_t)f->nmeta * 2 + 1, sizeof *meta);
    for (int i = 0; i < 2 * f->nmeta; i++) meta[i] = f->meta[i];
    const char **tn = xcalloc((size_t)s->n + 1, sizeof *tn);
    int *nd = xcalloc((size_t)s->n + 1, sizeof *nd);
    int64_t(*sh)[BONE_ST_MAX_DIMS] = xcalloc((size_t)s->n + 1, sizeof *sh);
    for (int64_t i = 0; i < s->n; i++) {
        tn[i] = s->t[i].name;
        nd[i] = s->t[i].ndim;
        memcpy(sh[i], s->t[i].shape, sizeof sh[i]);
    }
    uint64_t h = header_hash(meta, s->n, tn, nd, (const int64_t(*)[BONE_ST_MAX_DIMS])sh);
    free(meta);
    free(tn);
    free(nd);
    free(sh);
    return h;
}

static int is_ckpt_name(const char *n, int64_t *step) {
    long long s;
    char tail[32];
    if (sscanf(n, "step-%lld.%31s", &s, tail) != 2 || strcmp(tail, "safetensors") || s < 0) return 0;
    char canon[64];
    snprintf(canon, sizeof canon, "step-%08lld.safetensors", s);
    if (strcmp(canon, n)) return 0; /* temporaries ("...tmp.PID") never match */
    *step = s;
    return 1;
}

/* steps of all checkpoint files, sorted ascending */
static int64_t list_steps(const char *dir, int64_t **out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int64_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int64_t s;
        if (!is_ckpt_name(de->d_name, &s)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = xrealloc(*out, (size_t)cap * sizeof(int64_t));
        }
        (*out)[n++] = s;
    }
    closedir(d);
    for (int64_t i = 1; i < n; i++) /* insertion sort: few files */
        for (int64_t j = i; j > 0 && (*out)[j - 1] > (*out)[j]; j--) {
            int64_t t = (*out)[j];
            (*out)[j] = (*out)[j - 1];
            (*out)[j - 1] = t;
        }
    return n;
}

static char *ckpt_path(const char *dir, int64_t step) {
    char name[64];
    snprintf(name, sizeof name, "step-%08lld.safetensors", (long long)step);
    return bone_path_join(dir, name);
}

int bone_ckpt_save(const char *run_dir, const bone_params *P, const bone_ckpt_info *info,
                   const char *const *settings, int keep, bone_err *e) {
    char *dir = bone_path_join(run_dir, "checkpoints");
    if (bone_mkdirs(dir, e)) {
        free(dir);
        return -1;
    }
    bone_remove_stale_temps(dir, NULL); /* a save killed mid-write (kill -9) left its temporary */
    int64_t n = P->n;
    bone_st_wtensor *w = xcalloc((size_t)(3 * n + 1), sizeof *w);
    char **names = xcalloc((size_t)(3 * n + 1), sizeof *names);
    const char *pre[3] = {"value.", "m.", "v."};
    const float *buf[3] = {P->value, P->m, P->v};
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < n; i++) {
            const bone_param *p = &P->p[i];
            size_t len = strlen(pre[k]) + strlen(p->name) + 1;
            char *nm = xmalloc(len);
            snprintf(nm, len, "%s%s", pre[k], p->name);
            names[k * n + i] = nm;
            bone_st_wtensor *t = &w[k * n + i];
            t->name = nm;
            t->dtype = BONE_F32;
            t->ndim = p->ndim;
            for (int d = 0; d < p->ndim; d++) t->shape[d] = p->shape[d];
            t->data = buf[k] + p->offset;
        }
    char s_step[32], s_t[32], s_el[64], s_tok[32], s_meta[32];
    snprintf(s_step, sizeof s_step, "%lld", (long long)info->step);
    snprintf(s_t, sizeof s_t, "%lld", (long long)info->adam_t);
    snprintf(s_el, sizeof s_el, "%.17g", info->elapsed_s);
    snprintf(s_tok, sizeof s_tok, "%lld", (long long)info->tokens);
    int ns = 0;
    while (settings && settings[ns]) ns++;
    const char **meta = xcalloc((size_t)(ns * 2 + 18), sizeof(char *));
    int k = 0;
    meta[k++] = "bone_checkpoint"; meta[k++] = "1";
    meta[k++] = "bone_step"; meta[k++] = s_step;
    meta[k++] = "bone_adam_t"; meta[k++] = s_t;
    meta[k++] = "bone_elapsed_s"; meta[k++] = s_el;
    meta[k++] = "bone_tokens"; meta[k++] = s_tok;
    char **skeys = xcalloc((size_t)ns + 1, sizeof(char *));
    for (int i = 0; i + 1 < ns; i += 2) {
        size_t len = strlen(settings[i]) + 10;
        skeys[i] = xmalloc(len);
        snprintf(skeys[i], len, "bone_set_%s", settings[i]);
        meta[k++] = skeys[i];
        meta[k++] = settings[i + 1];
    }
    meta[k] = NULL;
    {
        const char **tn = xcalloc((size_t)(3 * n + 1), sizeof *tn);
        int *nd = xcalloc((size_t)(3 * n + 1), sizeof *nd);
        int64_t(*sh)[BONE_ST_MAX_DIMS] = xcalloc((size_t)(3 * n + 1), sizeof *sh);
        for (int64_t i = 0; i < 3 * n; i++) {
            tn[i] = w[i].name;
            nd[i] = w[i].ndim;
            memcpy(sh[i], w[i].shape, sizeof sh[i]);
        }
        snprintf(s_meta, sizeof s_meta, "%016llx",
                 (unsigned long long)header_hash(meta, 3 * n, tn, nd, (const int64_t(*)[BONE_ST_MAX_DIMS])sh));
        free(tn);
        free(nd);
        free(sh);
        meta[k++] = META_KEY;
        meta[k++] = s_meta;
        meta[k] = NULL;
    }
    char *path = ckpt_path(dir, info->step);
    int rc = bone_st_write_meta(path, w, 3 * n, meta, HASH_KEY, e);
    if (rc == 0 && keep > 0) { /* keep this run's newest `keep`; another run's files are not ours to delete */
        const char *run = NULL;
        for (int i = 0; i + 1 < ns; i += 2)
            if (!strcmp(settings[i], "run")) run = settings[i + 1];
        int64_t *steps;
        int64_t m = list_steps(dir, &steps), mine = 0;
        for (int64_t i = m - 1; i >= 0; i--) {
            char *old = ckpt_path(dir, steps[i]);
            int ours = 1;
            if (run) {
                bone_st_set cs;
                bone_err ce;
                bone_st_init(&cs);
                if (bone_st_open_file(&cs, old, &ce) == 0) {
                    const char *r = bone_st_meta(&cs, 0, RUN_KEY);
                    ours = r && !strcmp(r, run);
                }
                /* an unreadable file is counted as ours: it is a broken save of this run at
                 * worst, and keeping it forever would only waste space */
                bone_st_close(&cs);
            }
            if (ours && ++mine > keep) unlink(old);
            free(old);
        }
        free(steps);
    }
    for (int i = 0; i < ns; i++) free(skeys[i]);
    free(skeys);
    free(meta);
    free(path);
    for (int64_t i = 0; i < 3 * n; i++) free(names[i]);
    free(names);
    free(w);
    free(dir);
    return rc;
}

static int open_verified(const char *path, bone_st_set *s, bone_err *e) {
    bone_st_init(s);
    if (bone_st_open_file(s, path, e)) return -1;
    const char *h = bone_st_meta(s, 0, HASH_KEY);
    if (!bone_st_meta(s, 0, "bone_checkpoint") || !h) {
        bone_st_close(s);
        return bone_fail(e, "%s: not a bone checkpoint (no checkpoint metadata)", path);
    }
    const char *mh = bone_st_meta(s, 0, META_KEY);
    if (!mh) {
        bone_st_close(s);
        return bone_fail(e, "%s: the checkpoint has no header checksum (written by an older bone); it cannot be "
                            "verified, start the run again", path);
    }
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)header_hash_of(s));
    if (strcmp(want, mh)) {
        char rec[32];
        snprintf(rec, sizeof rec, "%.20s", mh);
        bone_st_close(s);
        return bone_fail(e, "%s: header checksum mismatch (recorded %s, the header hashes to %s): the file is corrupted",
                         path, rec, want);
    }
    snprintf(want, sizeof want, "%016llx", (unsigned long long)bone_st_data_hash(s, 0));
    if (strcmp(want, h)) {
        char rec[32]; /* h lives in s: copy it before closing */
        snprintf(rec, sizeof rec, "%s", h);
        bone_st_close(s);
        return bone_fail(e, "%s: checksum mismatch (recorded %s, data hashes to %s): the file is corrupted", path, rec,
                         want);
    }
    return 0;
}

int bone_ckpt_verify(const char *path, bone_err *e) {
    bone_st_set s;
    if (open_verified(path, &s, e)) return -1;
    bone_st_close(&s);
    return 0;
}

char *bone_ckpt_latest(const char *run_dir, const char *run_id, bone_err *e) {
    char *dir = bone_path_join(run_dir, "checkpoints");
    int64_t *steps;
    int64_t n = list_steps(dir, &steps);
    char *found = NULL;
    for (int64_t i = n - 1; i >= 0 && !found; i--) {
        char *p = ckpt_path(dir, steps[i]);
        bone_err ve;
        bone_st_set s;
        if (open_verified(p, &s, &ve) == 0) {
            const char *r = bone_st_meta(&s, 0, RUN_KEY);
            if (run_id && (!r || strcmp(r, run_id))) {
                fprintf(stderr, "bone: skipping checkpoint: %s belongs to another run (run %s, this run is %s)%s\n", p,
                        r ? r : "(none)", run_id, i > 0 ? "; trying the previous one" : "");
                free(p);
            } else {
                found = p;
            }
            bone_st_close(&s);
        } else {
            fprintf(stderr, "bone: skipping checkpoint: %s%s\n", ve.msg,
                    i > 0 ? "; trying the previous one" : "");
            free(p);
        }
    }
    if (!found) bone_fail(e, "%s: no usable checkpoint (%lld file(s) found)", dir, (long long)n);
    free(steps);
    free(dir);
    return found;
}

/* the integer metadata `key` in [0, max] */
static int meta_int(const bone_st_set *s, const char *path, const char *key, int64_t max, int64_t *out, bone_err *e) {
    const char *v = bone_st_meta(s, 0, key);
    if (!v) return bone_fail(e, "%s: missing metadata \"%s\"", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0 || x > max)
        return bone_fail(e, "%s: metadata \"%s\" = \"%.40s\" must be an integer in [0, %lld]", path, key, v,
                         (long long)max);
    *out = x;
    return 0;
}

int bone_ckpt_load(const char *path, bone_params *P, bone_ckpt_info *info, const char *const *settings,
                   int64_t max_step, bone_err *e) {
    bone_st_set s;
    if (open_verified(path, &s, e)) return -1;
    int rc = -1;
    for (int i = 0; settings && settings[i] && settings[i + 1]; i += 2) {
        char key[128];
        snprintf(key, sizeof key, "bone_set_%s", settings[i]);
        const char *was = bone_st_meta(&s, 0, key);
        if (!was || strcmp(was, settings[i + 1])) {
            bone_fail(e, "%s: this run was started with %s = %s, now %s; resume with the same settings (or use "
                         "another --out)", path, settings[i], was ? was : "(unset)", settings[i + 1]);
            goto out;
        }
    }
    const char *pre[3] = {"value.", "m.", "v."};
    float *buf[3] = {P->value, P->m, P->v};
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < P->n; i++) {
            char nm[600];
            snprintf(nm, sizeof nm, "%s%s", pre[k], P->p[i].name);
            const bone_st_tensor *t = bone_st_get(&s, nm, P->p[i].ndim, P->p[i].shape, e);
            if (!t) goto out;
            if (t->dtype != BONE_F32) { bone_fail(e, "%s: %s is not F32", path, nm); goto out; }
            memcpy(buf[k] + P->p[i].offset, t->data, (size_t)P->p[i].numel * sizeof(float));
        }
    if (meta_int(&s, path, "bone_step", max_step, &info->step, e) ||
        meta_int(&s, path, "bone_adam_t", info->step, &info->adam_t, e) ||
        meta_int(&s, path, "bone_tokens", INT64_MAX, &info->tokens, e))
        goto out;
    {
        const char *v = bone_st_meta(&s, 0, "bone_elapsed_s");
        char *end = NULL;
        info->elapsed_s = v ? strtod(v, &end) : -1;
        if (!v || end == v || *end || !isfinite(info->elapsed_s) || info->elapsed_s < 0) {
            bone_fail(e, "%s: metadata \"bone_elapsed_s\" must be a finite number >= 0", path);
            goto out;
        }
    }
    rc = 0;
out:
    bone_st_close(&s);
    return rc;
}
