/* inspect_gguf.c — `bone inspect FILE.gguf` (see inspect_gguf.h). */
#include "cli/inspect_gguf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/utf8.h"
#include <unistd.h>
#include "core/fs.h"
#include "io/gguf.h"

/* a metadata string for display: valid UTF-8 kept (control characters as spaces), anything
 * else reported; long strings (a chat template) shortened */
static cJSON *str_json(const uint8_t *s, uint64_t n) {
    const uint64_t show = n > 160 ? 160 : n;
    if (bone_utf8_check((const char *)s, (size_t)n) != n) {
        char msg[64];
        snprintf(msg, sizeof msg, "(%llu bytes, not valid UTF-8)", (unsigned long long)n);
        return cJSON_CreateString(msg);
    }
    size_t cut = (size_t)show;
    while (cut > 0 && cut < n && (s[cut] & 0xC0) == 0x80) cut--; /* keep whole characters */
    char *b = xmalloc(cut + 48);
    for (size_t i = 0; i < cut; i++) b[i] = s[i] < 0x20 ? ' ' : (char)s[i];
    if (cut < n) snprintf(b + cut, 48, "... (%llu bytes)", (unsigned long long)n);
    else b[cut] = 0;
    cJSON *r = cJSON_CreateString(b);
    free(b);
    return r;
}

static cJSON *scalar_json(uint32_t t, const uint8_t *p) {
    uint64_t u = 0;
    switch (t) {
    case GGUF_T_U8: return cJSON_CreateNumber(p[0]);
    case GGUF_T_I8: return cJSON_CreateNumber((int8_t)p[0]);
    case GGUF_T_U16: return cJSON_CreateNumber((uint16_t)(p[0] | p[1] << 8));
    case GGUF_T_I16: return cJSON_CreateNumber((int16_t)(p[0] | p[1] << 8));
    case GGUF_T_U32: return cJSON_CreateNumber((uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24));
    case GGUF_T_I32: return cJSON_CreateNumber((int32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24));
    case GGUF_T_F32: {
        uint32_t w = (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
        float f;
        memcpy(&f, &w, 4);
        return cJSON_CreateNumber(f);
    }
    case GGUF_T_BOOL: return cJSON_CreateBool(p[0]);
    default: break;
    }
    /* 8-byte types: u64 read whole (the array element lies within the file: checked by the parser) */
    u = 0;
    for (int i = 7; i >= 0; i--) u = (u << 8) | p[i];
    if (t == GGUF_T_U64) return cJSON_CreateNumber((double)u);
    if (t == GGUF_T_I64) return cJSON_CreateNumber((double)(int64_t)u);
    double d;
    memcpy(&d, &u, 8);
    return cJSON_CreateNumber(d);
}

int inspect_gguf(const char *path, cJSON *o, bone_err *e) {
    bone_gguf g;
    if (bone_gguf_open(&g, path, e)) return -1;
    cJSON_AddStringToObject(o, "kind", "gguf");
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "version", g.version);
    const bone_gguf_kv *a = bone_gguf_find(&g, "general.architecture");
    cJSON_AddItemToObject(o, "architecture", a && a->type == GGUF_T_STRING ? str_json(a->val, a->n) : cJSON_CreateNull());
    const bone_gguf_kv *ty = bone_gguf_find(&g, "general.type");
    cJSON_AddItemToObject(o, "type", ty && ty->type == GGUF_T_STRING ? str_json(ty->val, ty->n) : cJSON_CreateString("model"));
    cJSON_AddNumberToObject(o, "alignment", g.alignment);
    cJSON_AddNumberToObject(o, "tensors", (double)g.n_tensors);
    double params = 0, bytes = 0;
    cJSON *types = cJSON_CreateObject();
    cJSON *tl = cJSON_CreateArray();
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const bone_gguf_tensor *t = &g.t[i];
        double n = 1;
        for (uint32_t d = 0; d < t->ndim; d++) n *= (double)t->ne[d];
        params += n;
        bytes += (double)t->nbytes;
        const char *tn = "?";
        bone_gguf_type_info(t->type, NULL, NULL, &tn);
        cJSON *d = cJSON_GetObjectItemCaseSensitive(types, tn);
        if (!d) {
            d = cJSON_AddObjectToObject(types, tn);
            cJSON_AddNumberToObject(d, "tensors", 0);
            cJSON_AddNumberToObject(d, "parameters", 0);
        }
        cJSON *nt = cJSON_GetObjectItemCaseSensitive(d, "tensors"), *np = cJSON_GetObjectItemCaseSensitive(d, "parameters");
        cJSON_SetNumberValue(nt, nt->valuedouble + 1);
        cJSON_SetNumberValue(np, np->valuedouble + n);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", t->name);
        cJSON_AddStringToObject(x, "type", tn);
        cJSON *ne = cJSON_AddArrayToObject(x, "ne");
        for (uint32_t k = 0; k < t->ndim; k++) cJSON_AddItemToArray(ne, cJSON_CreateNumber((double)t->ne[k]));
        cJSON_AddNumberToObject(x, "offset", (double)t->offset);
        cJSON_AddItemToArray(tl, x);
    }
    cJSON_AddNumberToObject(o, "parameters", params);
    cJSON_AddNumberToObject(o, "tensor_bytes", bytes);
    cJSON_AddItemToObject(o, "tensor_types", types);
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    for (uint64_t i = 0; i < g.n_kv; i++) {
        const bone_gguf_kv *kv = &g.kv[i];
        cJSON *v;
        if (kv->type == GGUF_T_STRING) {
            v = str_json(kv->val, kv->n);
        } else if (kv->type == GGUF_T_ARRAY) {
            char s[96];
            snprintf(s, sizeof s, "[%llu x %s]", (unsigned long long)kv->n, bone_gguf_kv_type_name(kv->arr_type));
            v = cJSON_CreateString(s);
        } else {
            v = scalar_json(kv->type, kv->val);
        }
        cJSON_AddItemToObject(md, kv->key, v);
    }
    cJSON_AddItemToObject(o, "tensor_list", tl);
    bone_gguf_close(&g);
    return 0;
}

int inspect_is_gguf(const char *path) {
    bone_err e;
    uint64_t size;
    int fd = bone_open_regular(path, &size, &e);
    if (fd < 0) return 0;
    char m[4] = {0};
    ssize_t n = size >= 4 ? read(fd, m, 4) : 0;
    close(fd);
    return n == 4 && !memcmp(m, "GGUF", 4);
}
