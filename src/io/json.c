/* json.c — strict cJSON wrapper (see json.h). */
#include "io/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fs.h"
#include "core/utf8.h"

/* Do arrays and objects nest deeper than cJSON accepts? (Only asked after a failed parse, to
 * say so instead of "malformed JSON" about a well-formed file.) */
static int too_deep(const char *t, size_t n) {
    size_t depth = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > CJSON_NESTING_LIMIT) return 1;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return 0;
}

cJSON *bone_json_parse(const char *text, size_t n, const char *what, bone_err *e) {
    size_t bad = bone_utf8_check(text, n);
    if (bad != n) {
        bone_fail(e, "%s: invalid UTF-8 at byte offset %zu", what, bad);
        return NULL;
    }
    if (memchr(text, 0, n)) {
        bone_fail(e, "%s: NUL byte inside JSON text", what);
        return NULL;
    }
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!v && too_deep(text, n)) {
        bone_fail(e, "%s: JSON nested deeper than %d levels of arrays and objects (bone's JSON reader's limit)", what,
                  CJSON_NESTING_LIMIT);
        return NULL;
    }
    if (!v) {
        size_t off = end ? (size_t)(end - text) : 0;
        const char *ep = cJSON_GetErrorPtr();
        if (ep && ep >= text && ep <= text + n) off = (size_t)(ep - text);
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < n; i++) {
            if (text[i] == '\n') { line++; col = 1; } else col++;
        }
        char snippet[41];
        size_t k = 0;
        for (size_t i = off; i < n && k < 40 && text[i] != '\n'; i++) snippet[k++] = text[i];
        snippet[k] = 0;
        bone_fail(e, "%s:%zu:%zu: malformed JSON near \"%s\"", what, line, col, snippet);
        return NULL;
    }
    size_t off = (size_t)(end - text);
    while (off < n && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' || text[off] == '\r')) off++;
    if (off != n) {
        cJSON_Delete(v);
        bone_fail(e, "%s: unexpected text after the JSON value at byte %zu", what, off);
        return NULL;
    }
    return v;
}

cJSON *bone_json_load_object(const char *path, bone_err *e) {
    char *text;
    size_t n;
    if (bone_read_regular_file(path, &text, &n, e)) return NULL;
    cJSON *v = bone_json_parse(text, n, path, e);
    free(text);
    if (!v) return NULL;
    if (!cJSON_IsObject(v)) {
        cJSON_Delete(v);
        bone_fail(e, "%s: expected a JSON object at the top level", path);
        return NULL;
    }
    if (bone_json_check_dups(v, path, e)) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

static int key_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int bone_json_check_dups(const cJSON *obj, const char *what, bone_err *e) {
    /* sorted, so that an object with n keys costs n log n (a header of 150,000 tensors is fine) */
    size_t n = 0;
    for (const cJSON *a = obj->child; a; a = a->next)
        if (a->string) n++;
    if (n < 2) return 0;
    const char **k = xmalloc(n * sizeof *k);
    size_t i = 0;
    for (const cJSON *a = obj->child; a; a = a->next)
        if (a->string) k[i++] = a->string;
    qsort(k, n, sizeof *k, key_cmp);
    int rc = 0;
    for (i = 1; i < n && !rc; i++)
        if (!strcmp(k[i - 1], k[i])) rc = bone_fail(e, "%s: duplicate key \"%s\"", what, k[i]);
    free(k);
    return rc;
}

int bone_json_is_int(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0) return 0;
    if (out) *out = (int64_t)d;
    return 1;
}

int bone_json_int(const cJSON *obj, const char *key, const char *what, int64_t *out, bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return bone_fail(e, "%s: missing field \"%s\" (an integer)", what, key);
    if (!bone_json_is_int(v, out)) return bone_fail(e, "%s: field \"%s\" must be an integer", what, key);
    return 0;
}

int bone_json_int_opt(const cJSON *obj, const char *key, const char *what, int64_t dflt, int64_t *out, bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return 0; }
    if (!bone_json_is_int(v, out)) return bone_fail(e, "%s: field \"%s\" must be an integer", what, key);
    return 0;
}

int bone_json_num(const cJSON *obj, const char *key, const char *what, double *out, bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return bone_fail(e, "%s: missing field \"%s\" (a number)", what, key);
    if (!cJSON_IsNumber(v)) return bone_fail(e, "%s: field \"%s\" must be a number", what, key);
    *out = v->valuedouble;
    return 0;
}

int bone_json_num_opt(const cJSON *obj, const char *key, const char *what, double dflt, double *out, bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return 0; }
    if (!cJSON_IsNumber(v)) return bone_fail(e, "%s: field \"%s\" must be a number", what, key);
    *out = v->valuedouble;
    return 0;
}

int bone_json_bool_opt(const cJSON *obj, const char *key, const char *what, int dflt, int *out, bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return 0; }
    if (!cJSON_IsBool(v)) return bone_fail(e, "%s: field \"%s\" must be true or false", what, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

const char *bone_json_str(const cJSON *obj, const char *key, const char *what, bone_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) { bone_fail(e, "%s: missing field \"%s\" (a string)", what, key); return NULL; }
    if (!cJSON_IsString(v)) { bone_fail(e, "%s: field \"%s\" must be a string", what, key); return NULL; }
    return v->valuestring;
}

void bone_json_list_fields(const cJSON *o, char *buf, size_t cap) {
    buf[0] = 0;
    for (const cJSON *it = o->child; it; it = it->next) {
        size_t k = strlen(buf);
        snprintf(buf + k, cap - k, "%s\"%s\"", k ? ", " : "", it->string);
    }
    if (!buf[0]) snprintf(buf, cap, "none");
}

char *bone_json_print(const cJSON *v) { return cJSON_PrintUnformatted(v); }

int bone_json_add_float(cJSON *obj, const char *key, double v, const char *what, bone_err *e) {
    if (!isfinite(v)) return bone_fail(e, "%s: \"%s\" is %g, which JSON cannot hold; it must be a finite number", what, key, v);
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    for (int p = 1; p <= 17; p++) { /* the shortest text that reads back as v */
        char t[64];
        snprintf(t, sizeof t, "%.*g", p, v);
        if (strtod(t, NULL) == v) {
            memcpy(buf, t, sizeof t);
            break;
        }
    }
    if (!strpbrk(buf, ".eE")) strcat(buf, ".0");
    cJSON_AddItemToObject(obj, key, cJSON_CreateRaw(buf));
    return 0;
}

int bone_afile_write_json(bone_afile *af, cJSON *o, bone_err *e) {
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = bone_afile_write(af, t, strlen(t), e) || bone_afile_write(af, "\n", 1, e);
    free(t);
    return rc ? -1 : 0;
}
