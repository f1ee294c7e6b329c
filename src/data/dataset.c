/* dataset.c — the in-memory example list and the pre-tokenized JSONL loader. A leaf: the text
 * formats (instruct.c) build on it, and load.c (bone_dataset_load) picks between the two. */
#include "data/dataset.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "io/json.h"

void bone_dataset_init(bone_dataset *d) { memset(d, 0, sizeof *d); }

void bone_dataset_free(bone_dataset *d) {
    for (int64_t i = 0; i < d->n; i++) {
        free(d->ex[i].ids);
        free(d->ex[i].labels);
    }
    free(d->ex);
    memset(d, 0, sizeof *d);
}

void bone_dataset_push(bone_dataset *d, const int32_t *ids, const int32_t *labels, int64_t n) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->ex = xrealloc(d->ex, (size_t)d->cap * sizeof *d->ex);
    }
    bone_example *x = &d->ex[d->n++];
    x->n = n;
    x->line = 0;
    x->ids = xmalloc((size_t)(n + 1) * sizeof(int32_t));
    x->labels = xmalloc((size_t)(n + 1) * sizeof(int32_t));
    memcpy(x->ids, ids, (size_t)n * sizeof(int32_t));
    memcpy(x->labels, labels ? labels : ids, (size_t)n * sizeof(int32_t));
}

int bone_jsonl_next(const char *text, size_t n, size_t *pos, int64_t *line, size_t *a, size_t *b) {
    while (*pos < n) {
        size_t end = *pos;
        while (end < n && text[end] != '\n') end++;
        (*line)++;
        size_t x = *pos, y = end;
        *pos = end + 1;
        while (x < y && (text[x] == ' ' || text[x] == '\t' || text[x] == '\r')) x++;
        while (y > x && (text[y - 1] == ' ' || text[y - 1] == '\t' || text[y - 1] == '\r')) y--;
        if (x == y) continue; /* blank line */
        *a = x;
        *b = y;
        return 1;
    }
    return 0;
}

int64_t bone_example_label_count(const bone_example *x) {
    int64_t c = 0;
    for (int64_t t = 1; t < x->n; t++) c += x->labels[t] != BONE_IGNORE;
    return c;
}

static int read_ids(const cJSON *arr, const char *field, const char *where, int allow_ignore, int64_t vocab,
                    int32_t **out, int64_t *n, bone_err *e) {
    if (!cJSON_IsArray(arr)) return bone_fail(e, "%s: field \"%s\" must be an array of integers", where, field);
    int64_t cnt = cJSON_GetArraySize(arr), i = 0;
    int32_t *v = xmalloc((size_t)(cnt + 1) * sizeof(int32_t));
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        int64_t x;
        if (!bone_json_is_int(it, &x)) {
            free(v);
            return bone_fail(e, "%s: %s[%lld] is not an integer", where, field, (long long)i);
        }
        int ok = (x >= 0 && (vocab <= 0 || x < vocab) && x <= INT32_MAX) || (allow_ignore && x == BONE_IGNORE);
        if (!ok) {
            free(v);
            if (vocab > 0)
                return bone_fail(e, "%s: %s[%lld] = %lld is outside the vocabulary [0, %lld)%s", where, field,
                                 (long long)i, (long long)x, (long long)vocab, allow_ignore ? " and is not -100" : "");
            return bone_fail(e, "%s: %s[%lld] = %lld is negative%s", where, field, (long long)i, (long long)x,
                             allow_ignore ? " and is not -100" : "");
        }
        v[i] = (int32_t)x;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int bone_data_read(const char *path, char **text, size_t *n, bone_err *e) {
    if (bone_read_file(path, text, n, e)) return -1;
    /* a UTF-8 byte order mark (Windows editors write one) is not part of the first record
     * (hostile-use P6); config.json readers accept it too */
    if (*n >= 3 && !memcmp(*text, "\xEF\xBB\xBF", 3)) {
        memmove(*text, *text + 3, *n - 3 + 1);
        *n -= 3;
    }
    return 0;
}

cJSON *bone_jsonl_parse(const char *s, size_t n, const char *path, int64_t line, bone_err *e) {
    char where[1200];
    snprintf(where, sizeof where, "%s:%lld", path, (long long)line);
    bone_err je;
    cJSON *o = bone_json_parse(s, n, where, &je);
    if (o) return o;
    /* json.c places errors in the one-line text as WHERE:LINE:COL with LINE always 1 here;
     * say path:LINE:COL, not path:LINE:1:COL */
    size_t wl = strlen(where);
    if (!strncmp(je.msg, where, wl) && !strncmp(je.msg + wl, ":1:", 3))
        bone_fail(e, "%s:%lld:%s", path, (long long)line, je.msg + wl + 3);
    else
        bone_fail(e, "%s", je.msg);
    return NULL;
}

static int load_tokens_buf(const bone_data_opts *opts, const char *text, size_t n, bone_dataset *out, bone_err *e) {
    bone_dataset_init(out);
    int64_t line = 0, dropped = 0, truncated = 0;
    size_t pos = 0;
    int rc = -1;
    char where[1200];
    size_t a, b;
    while (bone_jsonl_next(text, n, &pos, &line, &a, &b)) {
        snprintf(where, sizeof where, "%s:%lld", opts->path, (long long)line);
        cJSON *o = bone_jsonl_parse(text + a, b - a, opts->path, line, e);
        if (!o) goto out;
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            bone_fail(e, "%s: expected a JSON object {\"input_ids\": [...], \"labels\": [...]}", where);
            goto out;
        }
        /* cJSON would use the first of two "input_ids" and Python the last: refuse (P7) */
        if (bone_json_check_dups(o, where, e)) {
            cJSON_Delete(o);
            goto out;
        }
        const cJSON *ids_j = cJSON_GetObjectItemCaseSensitive(o, "input_ids");
        if (!ids_j) {
            char f[512];
            bone_json_list_fields(o, f, sizeof f);
            cJSON_Delete(o);
            bone_fail(e, "%s: missing field \"input_ids\" (fields present: %s)", where, f);
            goto out;
        }
        int32_t *ids = NULL, *labels = NULL;
        int64_t ni = 0, nl = 0;
        if (read_ids(ids_j, "input_ids", where, 0, opts->vocab_size, &ids, &ni, e)) {
            cJSON_Delete(o);
            goto out;
        }
        const cJSON *lab_j = cJSON_GetObjectItemCaseSensitive(o, "labels");
        if (lab_j && !cJSON_IsNull(lab_j)) {
            if (read_ids(lab_j, "labels", where, 1, opts->vocab_size, &labels, &nl, e)) {
                free(ids);
                cJSON_Delete(o);
                goto out;
            }
            if (nl != ni) {
                free(ids);
                free(labels);
                cJSON_Delete(o);
                bone_fail(e, "%s: \"labels\" has %lld entries but \"input_ids\" has %lld; they must align", where,
                          (long long)nl, (long long)ni);
                goto out;
            }
        }
        cJSON_Delete(o);
        if (ni == 0) {
            free(ids);
            free(labels);
            bone_fail(e, "%s: \"input_ids\" is empty", where);
            goto out;
        }
        int64_t keep = ni;
        if (opts->max_len > 0 && ni > opts->max_len) {
            if (opts->policy == BONE_MAXLEN_ERROR) {
                free(ids);
                free(labels);
                bone_fail(e, "%s: %lld tokens exceed --max-len %lld (policy: error)", where, (long long)ni,
                          (long long)opts->max_len);
                goto out;
            }
            if (opts->policy == BONE_MAXLEN_DROP) {
                dropped++;
                free(ids);
                free(labels);
                continue;
            }
            truncated++;
            keep = opts->max_len;
        }
        bone_dataset_push(out, ids, labels, keep);
        out->ex[out->n - 1].line = line;
        free(ids);
        free(labels);
    }
    if (truncated || dropped)
        fprintf(stderr, "bone: %s: %lld example(s) longer than --max-len %lld were %s\n", opts->path,
                (long long)(truncated + dropped), (long long)opts->max_len, truncated ? "truncated" : "dropped");
    if (out->n == 0) {
        bone_fail(e, "%s: no examples%s", opts->path, dropped ? " (every example was dropped by --max-len)" : "");
        goto out;
    }
    rc = 0;
out:
    if (rc) bone_dataset_free(out);
    return rc;
}

int bone_dataset_load_tokens(const bone_data_opts *opts, bone_dataset *out, bone_err *e) {
    char *text;
    size_t n;
    bone_dataset_init(out);
    if (bone_data_read(opts->path, &text, &n, e)) return -1;
    int rc = load_tokens_buf(opts, text, n, out, e);
    free(text);
    return rc;
}

int bone_dataset_load_tokens_buf(const bone_data_opts *opts, const char *text, size_t n, bone_dataset *out,
                                 bone_err *e) {
    return load_tokens_buf(opts, text, n, out, e);
}
