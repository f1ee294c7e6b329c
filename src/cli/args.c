/* args.c — long-option parsing for the CLI (see args.h). */
#include "cli/args.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/optfile.h"

/* The options-file origins of the running command's arguments: written once by main() before
 * the command starts (bone_args_set_origins), then only read. */
static const bone_argv *origins;

void bone_args_set_origins(const bone_argv *a) { origins = a; }

/* the file (and line) an argument came from, or NULL for the command line's own */
static const bone_arg_origin *origin_of(const char *arg) {
    if (!origins || !origins->origin) return NULL;
    for (int i = 0; i < origins->argc; i++)
        if (origins->argv[i] == arg) return origins->origin[i].where ? &origins->origin[i] : NULL;
    return NULL;
}

int bone_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bone %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  try: bone %s --help\n", cmd);
    return BONE_EXIT_USAGE;
}

void bone_args_help(const char *cmd, const char *usage, const bone_opt *opts) {
    printf("usage: bone %s %s\n", cmd, usage ? usage : "");
    if (opts && opts[0].name) printf("\noptions:\n");
    for (const bone_opt *o = opts; o && o->name; o++) {
        const char *arg = o->type == OPT_FLAG ? "" : o->type == OPT_INT ? " N" : o->type == OPT_DOUBLE ? " X" : " S";
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->name, arg);
        printf("  %-24s %s\n", left, o->help ? o->help : "");
    }
    printf("  %-24s %s\n", "--options FILE", "read options from a JSON or TOML file; flags given here override it");
}

/* "FILE: " or "FILE:LINE: " for an argument from an options file, "" otherwise */
static const char *prefix(const char *arg, char *buf, size_t cap) {
    const bone_arg_origin *w = origin_of(arg);
    if (!w) return "";
    snprintf(buf, cap, "%s: ", w->where);
    return buf;
}

/* Options whose value is text, not a file, directory or name: these may be "". */
static int free_text(const char *name) {
    static const char *const names[] = {"prompt", "text", "title", "stop", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

static int set_value(const char *cmd, bone_opt *o, const char *arg, const char *val) {
    char *end, pb[1200];
    const char *from = prefix(arg, pb, sizeof pb);
    switch (o->type) {
    case OPT_FLAG: *(int *)o->target = 1; break;
    case OPT_INT: {
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) return bone_usage_error(cmd, "%s--%s expects an integer, got \"%s\"", from, o->name, val);
        *(int64_t *)o->target = v;
        break;
    }
    case OPT_DOUBLE: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end) return bone_usage_error(cmd, "%s--%s expects a number, got \"%s\"", from, o->name, val);
        *(double *)o->target = v;
        break;
    }
    case OPT_STR:
        /* an empty path would name nothing (or the current directory); only free text may be empty */
        if (!*val && !free_text(o->name)) return bone_usage_error(cmd, "%s--%s must not be empty", from, o->name);
        *(const char **)o->target = val;
        break;
    }
    o->seen = 1;
    return 0;
}

int bone_opt_seen(const bone_opt *opts, const char *name) {
    for (const bone_opt *p = opts; p->name; p++)
        if (!strcmp(p->name, name)) return p->seen;
    return 0;
}

int bone_args_parse(const char *cmd, const char *usage, bone_opt *opts, int argc, char **argv,
                    const char **pos, int maxpos, int *npos) {
    *npos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) { only_pos = 1; continue; }
        if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            bone_args_help(cmd, usage, opts);
            return -1;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            bone_opt *o = NULL;
            for (bone_opt *p = opts; p && p->name; p++)
                if (strlen(p->name) == len && !strncmp(p->name, name, len)) { o = p; break; }
            char pb[1200];
            const char *from = prefix(a, pb, sizeof pb);
            if (!o) return bone_usage_error(cmd, "%sunknown option --%.*s", from, (int)len, name);
            if (o->type == OPT_FLAG) {
                if (eq) return bone_usage_error(cmd, "--%s takes no value", o->name);
                const bone_arg_origin *w = origin_of(a);
                if (w && w->paired)
                    return bone_usage_error(cmd, "%s: \"%s\" is a flag; use true/false", w->where, w->key);
                if (set_value(cmd, o, a, NULL)) return BONE_EXIT_USAGE;
                continue;
            }
            const char *val = eq ? eq + 1 : NULL;
            if (!val) {
                if (i + 1 >= argc) return bone_usage_error(cmd, "--%s needs a value", o->name);
                val = argv[++i];
            }
            if (set_value(cmd, o, a, val)) return BONE_EXIT_USAGE;
            continue;
        }
        if (a[0] == '-' && a[1] && !only_pos) return bone_usage_error(cmd, "unknown option %s", a);
        if (*npos >= maxpos) return bone_usage_error(cmd, "unexpected argument \"%s\"", a);
        pos[(*npos)++] = a;
    }
    return 0;
}
