/* fuzz_pth.c — libFuzzer target: the strict .pth reader (src/io/pth.c). The first input byte
 * picks the mode: even → the rest is a whole file image (zip + pickle); odd → the rest is a
 * data.pkl, wrapped here in a well-formed stored zip with four 64-byte storages data/0..3, so
 * mutations exercise the pickle machine rather than the zip checks. CRCs are not checked (a mutated
 * file would nearly always stop there). Accepted tensors are read at both ends, so ASan checks
 * every data span lies inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "io/pth.h"

static size_t put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); return 2; }
static size_t put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); return 4; }

/* stored zip of n entries; returns its size (buf holds enough) */
static size_t make_zip(uint8_t *buf, const char *const *names, const uint8_t *const *data, const size_t *len, int n) {
    size_t off = 0, cd = 0;
    uint32_t lho[8];
    uint8_t dir[8 * 80];
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        lho[i] = (uint32_t)off;
        uint8_t *h = buf + off;
        put32(h, 0x04034b50u);
        memset(h + 4, 0, 26);
        put32(h + 18, (uint32_t)len[i]);
        put32(h + 22, (uint32_t)len[i]);
        put16(h + 26, (unsigned)nl);
        memcpy(h + 30, names[i], nl);
        if (len[i]) memcpy(h + 30 + nl, data[i], len[i]);
        off += 30 + nl + len[i];
        uint8_t *c = dir + cd;
        put32(c, 0x02014b50u);
        memset(c + 4, 0, 42);
        put32(c + 20, (uint32_t)len[i]);
        put32(c + 24, (uint32_t)len[i]);
        put16(c + 28, (unsigned)nl);
        put32(c + 42, lho[i]);
        memcpy(c + 46, names[i], nl);
        cd += 46 + nl;
    }
    memcpy(buf + off, dir, cd);
    uint8_t *e = buf + off + cd;
    put32(e, 0x06054b50u);
    memset(e + 4, 0, 18);
    put16(e + 8, (unsigned)n);
    put16(e + 10, (unsigned)n);
    put32(e + 12, (uint32_t)cd);
    put32(e + 16, (uint32_t)off);
    return off + cd + 22;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *img = data + 1;
    size_t n = size - 1;
    uint8_t *wrapped = NULL;
    if (data[0] & 1) {
        static const uint8_t zeros[64] = {0};
        const char *names[] = {"archive/data.pkl", "archive/data/0", "archive/data/1", "archive/data/2",
                               "archive/data/3", "archive/version"};
        const uint8_t *d[] = {img, zeros, zeros, zeros, zeros, (const uint8_t *)"3\n"};
        size_t len[] = {n, 64, 64, 64, 64, 2};
        wrapped = malloc(n + 6 * 200 + 64 * 4 + 64);
        n = make_zip(wrapped, names, d, len, 6);
        img = wrapped;
    }
    bone_pth p;
    bone_err e;
    if (bone_pth_parse_ex(&p, "fuzz.pth", img, n, 0, &e) == 0) {
        for (int64_t i = 0; i < p.n; i++) {
            const bone_pth_tensor *t = &p.t[i];
            if (t->nbytes) {
                volatile uint8_t sink = ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->nbytes - 1];
                (void)sink;
            }
            if (bone_pth_find(&p, t->name) == NULL) abort();
        }
        bone_pth_close(&p);
    } else if (p.n != 0 || p.t != NULL) {
        abort(); /* a failed parse must leave nothing behind */
    }
    free(wrapped);
    return 0;
}
