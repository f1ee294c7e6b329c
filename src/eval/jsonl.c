/* jsonl.c — JSON Lines reader for the eval tasks (see jsonl.h). */
#include "eval/jsonl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "io/json.h"

int bone_jsonl_read(const char *path, int64_t limit, bone_jsonl *j, bone_err *e) {
    memset(j, 0, sizeof *j);
    char *buf;
    size_t len;
    if (bone_read_file(path, &buf, &len, e)) return -1;
    int64_t cap = 0, line = 0;
    int rc = 0;
    for (char *p = buf, *end = buf + len; p < end && (limit <= 0 || j->n < limit);) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *next = nl ? nl + 1 : end;
        line++;
        size_t k = 0;
        while (k < l && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == l) { p = next; continue; }
        char what[1100];
        snprintf(what, sizeof what, "%s:%lld", path, (long long)line);
        cJSON *o = bone_json_parse(p, l, what, e);
        if (!o) { rc = -1; break; }
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            rc = bone_fail(e, "%s: expected a JSON object", what);
            break;
        }
        if (j->n == cap) {
            cap = cap ? 2 * cap : 256;
            j->row = xrealloc(j->row, (size_t)cap * sizeof *j->row);
            j->line = xrealloc(j->line, (size_t)cap * sizeof *j->line);
        }
        j->row[j->n] = o;
        j->line[j->n++] = line;
        p = next;
    }
    free(buf);
    if (!rc && j->n == 0) rc = bone_fail(e, "%s: no records", path);
    if (rc) bone_jsonl_free(j);
    return rc;
}

void bone_jsonl_free(bone_jsonl *j) {
    for (int64_t i = 0; i < j->n; i++) cJSON_Delete(j->row[i]);
    free(j->row);
    free(j->line);
    memset(j, 0, sizeof *j);
}

const char *bone_jsonl_str(const bone_jsonl *j, int64_t i, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j->row[i], key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

typedef struct { const char *id; int64_t i; } id_ix;
static int id_cmp(const void *a, const void *b) { return strcmp(((const id_ix *)a)->id, ((const id_ix *)b)->id); }

static int digits_only(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

int bone_samples_read(const char *path, const char *const *ids, int64_t nids, bone_samples *s, bone_err *e) {
    memset(s, 0, sizeof *s);
    bone_jsonl j;
    if (bone_jsonl_read(path, 0, &j, e)) return -1;
    /* sorted (id, index) pairs for lookups */
    id_ix *ix = xmalloc((size_t)(nids + 1) * sizeof *ix);
    int64_t nix = 0;
    for (int64_t i = 0; i < nids; i++)
        if (ids && ids[i]) ix[nix++] = (id_ix){ids[i], i};
    qsort(ix, (size_t)nix, sizeof *ix, id_cmp);
    s->task = xmalloc((size_t)j.n * sizeof *s->task);
    s->completion = xmalloc((size_t)j.n * sizeof *s->completion);
    int rc = 0;
    for (int64_t r = 0; r < j.n; r++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j.row[r], "task_id");
        const char *c = bone_jsonl_str(&j, r, "completion");
        if (!c) {
            rc = bone_fail(e, "%s:%lld: expected a string field \"completion\"", path, (long long)j.line[r]);
            break;
        }
        int64_t task = -1;
        if (cJSON_IsString(t)) {
            id_ix key = {t->valuestring, 0}, *hit = bsearch(&key, ix, (size_t)nix, sizeof *ix, id_cmp);
            if (hit) task = hit->i;
            else if (digits_only(t->valuestring) && strlen(t->valuestring) < 18) task = strtoll(t->valuestring, NULL, 10);
            else {
                rc = bone_fail(e, "%s:%lld: task_id \"%.200s\" is not in the data set", path, (long long)j.line[r],
                               t->valuestring);
                break;
            }
        } else if (cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble < 9e15 &&
                   t->valuedouble == (double)(int64_t)t->valuedouble) {
            task = (int64_t)t->valuedouble;
        } else {
            rc = bone_fail(e, "%s:%lld: expected \"task_id\", a string id or a row index", path, (long long)j.line[r]);
            break;
        }
        if (task < 0 || task >= nids) {
            rc = bone_fail(e, "%s:%lld: task_id names row %lld but the data set has %lld rows", path,
                           (long long)j.line[r], (long long)task, (long long)nids);
            break;
        }
        s->task[s->n] = task;
        s->completion[s->n++] = xstrdup(c);
    }
    free(ix);
    bone_jsonl_free(&j);
    if (rc) bone_samples_free(s);
    return rc;
}

void bone_samples_free(bone_samples *s) {
    for (int64_t i = 0; i < s->n; i++) free(s->completion[i]);
    free(s->task);
    free(s->completion);
    memset(s, 0, sizeof *s);
}
