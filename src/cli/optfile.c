/* optfile.c — JSON/TOML options files expanded into arguments (see optfile.h). */
#include "cli/optfile.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "core/err.h"
#include "core/fs.h"
#include "io/json.h"

/* arguments, each with where it came from (bone_arg_origin; all NULL for the command line's) */
typedef struct { char **v; bone_arg_origin *o; int n, cap; } strv;

static void push(strv *a, const char *s, const char *where, const char *key, int paired) {
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? 2 * a->cap : 32;
        a->v = xrealloc(a->v, (size_t)a->cap * sizeof(char *));
        a->o = xrealloc(a->o, (size_t)a->cap * sizeof *a->o);
    }
    a->o[a->n] = (bone_arg_origin){where ? xstrdup(where) : NULL, key ? xstrdup(key) : NULL, paired};
    a->v[a->n++] = xstrdup(s);
    a->v[a->n] = NULL;
    a->o[a->n] = (bone_arg_origin){NULL, NULL, 0};
}

static void strv_free(strv *a) {
    bone_argv t = {a->n, a->v, a->o};
    bone_argv_free(&t);
}

/* one key = value; bools become a bare flag (true) or nothing (false). `seen` holds the
 * options this file has set so far (a key given twice in one file is an error). */
static int add_opt(const char *cmd, strv *a, strv *seen, const char *where, const char *key, const char *val,
                   int is_bool, int bval) {
    if (!*key || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(key))
        return bone_usage_error(cmd, "%s: \"%s\" is not an option name", where, key);
    char flag[256];
    snprintf(flag, sizeof flag, "--%s", key);
    for (char *p = flag; *p; p++)
        if (*p == '_') *p = '-';
    if (!strcmp(flag, "--options") || !strcmp(flag, "--help"))
        return bone_usage_error(cmd, "%s: \"%s\" cannot be set from an options file", where, key);
    for (int i = 0; i < seen->n; i++)
        if (!strcmp(seen->v[i], flag))
            return strcmp(where, seen->o[i].where)
                       ? bone_usage_error(cmd, "%s: \"%s\" given twice (also at %s)", where, key, seen->o[i].where)
                       : bone_usage_error(cmd, "%s: \"%s\" given twice", where, key);
    push(seen, flag, where, key, 0);
    if (is_bool) {
        if (bval) push(a, flag, where, key, 0);
        return 0;
    }
    push(a, flag, where, key, 1);
    push(a, val, where, NULL, 0);
    return 0;
}

static int from_json(const char *cmd, strv *a, strv *seen, const char *path, const char *text, size_t n) {
    bone_err e;
    cJSON *root = bone_json_parse(text, n, path, &e);
    if (!root) return bone_usage_error(cmd, "%s", e.msg);
    int rc = 0;
    if (!cJSON_IsObject(root)) rc = bone_usage_error(cmd, "%s: expected a JSON object of option names", path);
    for (cJSON *it = root->child; it && rc == 0; it = it->next) {
        char num[64];
        int64_t iv;
        if (cJSON_IsBool(it)) {
            rc = add_opt(cmd, a, seen, path, it->string, NULL, 1, cJSON_IsTrue(it));
        } else if (cJSON_IsString(it)) {
            rc = add_opt(cmd, a, seen, path, it->string, it->valuestring, 0, 0);
        } else if (cJSON_IsNumber(it)) {
            if (bone_json_is_int(it, &iv)) snprintf(num, sizeof num, "%lld", (long long)iv);
            else snprintf(num, sizeof num, "%.17g", it->valuedouble);
            rc = add_opt(cmd, a, seen, path, it->string, num, 0, 0);
        } else {
            rc = bone_usage_error(cmd, "%s: option \"%s\" must be a string, number or boolean", path, it->string);
        }
    }
    cJSON_Delete(root);
    return rc;
}

/* A TOML subset: comments, blank lines, [tables] (ignored), key = "str" | 'str' | number | bool. */
static int from_toml(const char *cmd, strv *a, strv *seen, const char *path, char *text) {
    int line = 0;
    char *p = text;
    while (*p) {
        char *ln = p, *nl = strchr(p, '\n');
        if (nl) { *nl = 0; p = nl + 1; } else p += strlen(p);
        line++;
        char where[1100];
        snprintf(where, sizeof where, "%s:%d", path, line);
        while (*ln == ' ' || *ln == '\t') ln++;
        size_t L = strlen(ln);
        while (L && (ln[L - 1] == '\r' || ln[L - 1] == ' ' || ln[L - 1] == '\t')) ln[--L] = 0;
        if (!*ln || *ln == '#' || *ln == '[') continue;
        char *eq = strchr(ln, '=');
        if (!eq) return bone_usage_error(cmd, "%s: expected key = value", where);
        char *ke = eq;
        while (ke > ln && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
        *ke = 0;
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t') v++;
        int rc;
        if (*v == '"' || *v == '\'') {
            char q = *v++;
            char *end = strchr(v, q);
            if (!end) return bone_usage_error(cmd, "%s: unterminated string", where);
            char *after = end + 1;
            while (*after == ' ' || *after == '\t') after++;
            if (*after && *after != '#') return bone_usage_error(cmd, "%s: unexpected text after the string", where);
            *end = 0;
            if (q == '"' && strchr(v, '\\'))
                return bone_usage_error(cmd, "%s: escape sequences are not supported; use a 'literal string'", where);
            rc = add_opt(cmd, a, seen, where, ln, v, 0, 0);
        } else {
            char *hash = strchr(v, '#');
            if (hash) *hash = 0;
            size_t m = strlen(v);
            while (m && (v[m - 1] == ' ' || v[m - 1] == '\t')) v[--m] = 0;
            if (!*v) return bone_usage_error(cmd, "%s: missing value", where);
            if (!strcmp(v, "true") || !strcmp(v, "false")) rc = add_opt(cmd, a, seen, where, ln, NULL, 1, v[0] == 't');
            else rc = add_opt(cmd, a, seen, where, ln, v, 0, 0);
        }
        if (rc) return rc;
    }
    return 0;
}

static int load(const char *cmd, strv *a, const char *path) {
    char *text;
    size_t n;
    bone_err e;
    if (bone_read_file(path, &text, &n, &e)) return bone_usage_error(cmd, "%s", e.msg);
    /* a UTF-8 byte-order mark (Windows editors write one) is not part of the first key */
    size_t i = n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0, start = i;
    while (i < n && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) i++;
    strv seen = {0};
    int rc = (i < n && text[i] == '{') ? from_json(cmd, a, &seen, path, text + start, n - start)
                                       : from_toml(cmd, a, &seen, path, text + start);
    strv_free(&seen);
    free(text);
    return rc;
}

int bone_optfile_expand(const char *cmd, int argc, char **argv, int config_is_options, bone_argv *out) {
    strv file = {0}, rest = {0};
    push(&rest, argv[0], NULL, NULL, 0);
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *path = NULL;
        if (!strcmp(a, "--")) { /* everything after is positional */
            for (; i < argc; i++) push(&rest, argv[i], NULL, NULL, 0);
            break;
        }
        if (!strcmp(a, "--options") || (config_is_options && !strcmp(a, "--config"))) {
            if (i + 1 >= argc) { rc = bone_usage_error(cmd, "%s needs a file", a); break; }
            path = argv[++i];
        } else if (!strncmp(a, "--options=", 10)) {
            path = a + 10;
        } else if (config_is_options && !strncmp(a, "--config=", 9)) {
            path = a + 9;
        }
        if (path) rc = load(cmd, &file, path);
        else push(&rest, a, NULL, NULL, 0);
    }
    if (rc) {
        strv_free(&file);
        strv_free(&rest);
        return rc;
    }
    /* command name, then the file's options, then the command line's */
    strv all = {0};
    push(&all, rest.v[0], NULL, NULL, 0);
    for (int i = 0; i < file.n; i++) push(&all, file.v[i], file.o[i].where, file.o[i].key, file.o[i].paired);
    for (int i = 1; i < rest.n; i++) push(&all, rest.v[i], NULL, NULL, 0);
    strv_free(&file);
    strv_free(&rest);
    out->argc = all.n;
    out->argv = all.v;
    out->origin = all.o;
    return 0;
}

void bone_argv_free(bone_argv *a) {
    for (int i = 0; i < a->argc; i++) {
        free(a->argv[i]);
        if (a->origin) {
            free(a->origin[i].where);
            free(a->origin[i].key);
        }
    }
    free(a->argv);
    free(a->origin);
    a->argv = NULL;
    a->origin = NULL;
    a->argc = 0;
}
