/* pth_tool.c — the .pth reader and writer (src/io/pth.c) on any tensor dict, for test_rwkv_pth.py
 * and the manual zip64 checks (tests/io/pth_zip64_big.py), which compare against torch:
 *   pth_tool dump FILE           one line per tensor: name, dtype, shape, then its bytes in hex
 *                                (tensors over 1 MiB: the count of non-zero bytes and the hex of
 *                                the first and last 16 bytes)
 *   pth_tool check FILE          opens (every check and CRC) and closes it: the reader's cost alone
 *   pth_tool copy IN OUT [--zip64]   reads IN and writes its tensors to OUT with bone_pth_write_ex;
 *                                --zip64 forces the zip64 records (bone_pth_wopts.force_zip64)
 * Errors go to stderr as bone prints them; the exit status is 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/pth.h"

static void hex(const uint8_t *p, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) printf("%02x", p[i]);
}

static int dump(const char *path, int check_only) {
    bone_pth p;
    bone_err e;
    if (bone_pth_open(&p, path, &e)) {
        fprintf(stderr, "pth_tool: %s\n", e.msg);
        return 1;
    }
    if (check_only) {
        printf("%lld tensors\n", (long long)p.n);
        bone_pth_close(&p);
        return 0;
    }
    for (int64_t i = 0; i < p.n; i++) {
        const bone_pth_tensor *t = &p.t[i];
        printf("%s\t%s\t", t->name, bone_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
        printf("\t");
        const uint8_t *b = t->data;
        if (t->nbytes <= (1u << 20)) {
            hex(b, t->nbytes);
        } else {
            uint64_t nz = 0;
            for (uint64_t k = 0; k < t->nbytes; k++) nz += b[k] != 0;
            printf("nonzero=%llu first=", (unsigned long long)nz);
            hex(b, 16);
            printf(" last=");
            hex(b + t->nbytes - 16, 16);
        }
        printf("\n");
    }
    bone_pth_close(&p);
    return 0;
}

static int copy(const char *in, const char *out, int z64) {
    bone_pth p;
    bone_err e;
    if (bone_pth_open(&p, in, &e)) {
        fprintf(stderr, "pth_tool: %s\n", e.msg);
        return 1;
    }
    bone_pth_wtensor *w = calloc((size_t)(p.n ? p.n : 1), sizeof *w);
    if (!w) abort();
    for (int64_t i = 0; i < p.n; i++) {
        w[i].name = p.t[i].name;
        w[i].dtype = p.t[i].dtype;
        w[i].ndim = p.t[i].ndim;
        memcpy(w[i].shape, p.t[i].shape, sizeof w[i].shape);
        w[i].data = p.t[i].data;
    }
    bone_pth_wopts o = {.force_zip64 = z64};
    int rc = bone_pth_write_ex(out, w, p.n, &o, &e);
    if (rc) fprintf(stderr, "pth_tool: %s\n", e.msg);
    free(w);
    bone_pth_close(&p);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "dump")) return dump(argv[2], 0);
    if (argc == 3 && !strcmp(argv[1], "check")) return dump(argv[2], 1);
    if ((argc == 4 || (argc == 5 && !strcmp(argv[4], "--zip64"))) && !strcmp(argv[1], "copy"))
        return copy(argv[2], argv[3], argc == 5);
    fprintf(stderr, "usage: pth_tool dump FILE | pth_tool check FILE | pth_tool copy IN OUT [--zip64]\n");
    return 2;
}
