/* pth.c — the strict PyTorch `.pth` reader (zip container + a protocol-2 pickle subset that
 * never calls anything) and the writer torch.load(weights_only=True) reads. See pth.h. */
#include "io/pth.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "core/fs.h"
#include "core/hash.h"
#include "core/utf8.h"

#define PTH_MAX_PICKLE (16ull << 20)     /* data.pkl bytes: a 14B model's (1,830 tensors) is ~300 KB */
#define PTH_MAX_VALUES (1 << 22)         /* pickle values (a few per opcode) */
#define PTH_MAX_STACK (1 << 20)

/* ---- little-endian and CRC-32 (zip's polynomial 0xEDB88320) ---------------------------------- */
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    /* slicing-by-8: t[k][b] is the CRC of byte b followed by k zero bytes, so 8 input bytes take 8
     * lookups; ~5x the byte-at-a-time loop, which matters for 15-28 GB checkpoints. The 8 KB of
     * tables are built per call (microseconds, next to the data). */
    static const uint32_t poly = 0xEDB88320u;
    uint32_t t[8][256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? poly ^ (c >> 1) : c >> 1;
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t a = crc ^ rd32(p), b = rd32(p + 4);
        crc = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^ t[4][a >> 24] ^ t[3][b & 0xff] ^
              t[2][(b >> 8) & 0xff] ^ t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
    }
    for (; n; p++, n--) crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- the zip container -------------------------------------------------------------------- */
typedef struct zent {
    const char *name; /* into the image, not NUL-terminated */
    size_t nlen;
    uint64_t lho, data, size, end; /* local header, data start, data size, end incl. descriptor */
    uint32_t crc;
} zent;

static int cmp_zname(const void *a, const void *b) {
    const zent *x = a, *y = b;
    size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
    int c = memcmp(x->name, y->name, n);
    return c ? c : x->nlen < y->nlen ? -1 : x->nlen > y->nlen;
}
static int cmp_zoff(const void *a, const void *b) {
    const zent *x = a, *y = b;
    return x->lho < y->lho ? -1 : x->lho > y->lho;
}

/* zip64 (APPNOTE 6.3.10 §4.3.14-4.3.15, §4.5.3) is read as a size extension only: the zip64 end
 * record with its locator, and the zip64 extra field (header id 0x0001) carrying the 64-bit sizes
 * and local-header offset that do not fit their 32-bit fields. torch writes the end record into
 * every file (miniz with MZ_ZIP_FLAG_WRITE_ZIP64) and the extra fields once an entry or an offset
 * reaches 4 GiB, as in the official 3B/7B/14B checkpoints. A 32-bit field holding the placeholder
 * (0xFFFFFFFF; 0xFFFF for an entry count) takes its 64-bit value; any other 32-bit field must
 * agree with the 64-bit one. Multi-disk archives and the zip64 extensible data sector are refused. */
#define Z64_PH 0xffffffffu

/* Walks the extra-field area x[0..n) of one header strictly: every field's 4-byte header and its
 * data lie inside the area. *z64 is the zip64 field's data (NULL when there is none). */
static int extra_z64(const char *what, const char *hdr, int nl, const char *nm, const uint8_t *x, size_t n,
                     const uint8_t **z64, size_t *z64n, bone_err *e) {
    *z64 = NULL;
    *z64n = 0;
    for (size_t k = 0; k < n;) {
        if (n - k < 4)
            return bone_fail(e, "%s: entry %.*s: its %s extra-field area ends in %zu stray bytes (each field starts "
                                "with a 4-byte header)", what, nl, nm, hdr, n - k);
        unsigned id = rd16(x + k), len = rd16(x + k + 2);
        if (len > n - k - 4)
            return bone_fail(e, "%s: entry %.*s: its %s extra field 0x%04x claims %u bytes, but only %zu remain in its "
                                "%zu-byte extra-field area", what, nl, nm, hdr, id, len, n - k - 4, n);
        if (id == 0x0001) {
            if (*z64) return bone_fail(e, "%s: entry %.*s: its %s header has two zip64 extra fields", what, nl, nm, hdr);
            *z64 = x + k + 4;
            *z64n = len;
        }
        k += 4 + (size_t)len;
    }
    return 0;
}

/* Reads the central directory into *out (sorted by name). */
static int zip_read(const char *what, const uint8_t *b, size_t size, zent **out, int64_t *nout, bone_err *e) {
    *out = NULL;
    *nout = 0;
    if (size >= 2 && b[0] == 0x80 && b[1] <= 5)
        return bone_fail(e, "%s: a legacy (non-zip) torch.save file, as torch < 1.6 or _use_new_zipfile_serialization="
                            "False writes it; bone reads only the zip form (re-save it with torch >= 1.6)", what);
    if (size < 4 || rd32(b) != 0x04034b50u)
        return bone_fail(e, "%s: not a PyTorch zip archive (it does not start with a zip local header \"PK\\3\\4\")", what);
    if (size < 22) return bone_fail(e, "%s: truncated: too short to hold a zip end-of-central-directory record", what);
    /* the end record: the last "PK\5\6" whose comment runs exactly to the end of the file */
    int64_t eo = -1;
    for (size_t k = size - 22 + 1; k-- > 0 && size - k <= 22 + 65535;)
        if (rd32(b + k) == 0x06054b50u && k + 22 + rd16(b + k + 20) == size) { eo = (int64_t)k; break; }
    if (eo < 0) return bone_fail(e, "%s: truncated or not a zip: no end-of-central-directory record at its end", what);
    const uint8_t *E = b + eo;
    unsigned n16 = rd16(E + 10);
    uint32_t cds32 = rd32(E + 12), cdo32 = rd32(E + 16);
    if (rd16(E + 4) || rd16(E + 6) || rd16(E + 8) != n16)
        return bone_fail(e, "%s: a multi-disk (split) zip archive", what);
    uint64_t nent = n16, cdsize = cds32, cdoff = cdo32, cd_limit = (uint64_t)eo;
    if (eo >= 20 && rd32(E - 20) == 0x07064b50u) { /* zip64 locator: disk of the zip64 record, its offset, disks */
        const uint8_t *Lc = E - 20;
        uint64_t zo = rd64(Lc + 8);
        if (rd32(Lc + 4) || rd32(Lc + 16) != 1)
            return bone_fail(e, "%s: a multi-disk (split) zip archive (its zip64 locator names disk %u of %u)", what,
                             rd32(Lc + 4), rd32(Lc + 16));
        if (eo < 76)
            return bone_fail(e, "%s: its zip64 end-of-central-directory locator is at offset %lld, leaving no room for the "
                                "56-byte zip64 end record before it", what, (long long)eo - 20);
        if (zo != (uint64_t)eo - 76)
            return bone_fail(e, "%s: its zip64 end-of-central-directory locator points at offset %llu, but the 56-byte zip64 "
                                "end record must lie right before the locator, at offset %lld", what,
                             (unsigned long long)zo, (long long)eo - 76);
        const uint8_t *Z = b + zo;
        if (rd32(Z) != 0x06064b50u)
            return bone_fail(e, "%s: no zip64 end-of-central-directory record (\"PK\\6\\6\") at offset %llu, where its "
                                "locator points", what, (unsigned long long)zo);
        if (rd64(Z + 4) != 44)
            return bone_fail(e, "%s: its zip64 end record gives its size as %llu bytes; expected 44 (bone reads no zip64 "
                                "extensible data sector)", what, (unsigned long long)rd64(Z + 4));
        if (rd32(Z + 16) || rd32(Z + 20) || rd64(Z + 24) != rd64(Z + 32))
            return bone_fail(e, "%s: a multi-disk (split) zip archive (its zip64 end record names other disks)", what);
        uint64_t n64 = rd64(Z + 32), cds64 = rd64(Z + 40), cdo64 = rd64(Z + 48);
        if ((n16 != 0xffff && n16 != n64) || (cds32 != Z64_PH && cds32 != cds64) || (cdo32 != Z64_PH && cdo32 != cdo64))
            return bone_fail(e, "%s: its zip64 end record (%llu entries, a %llu-byte central directory at offset %llu) "
                                "disagrees with its 32-bit end record (%u entries, %u bytes at offset %u); each 32-bit "
                                "field must repeat the 64-bit value or be the placeholder 0xFFFF/0xFFFFFFFF", what,
                             (unsigned long long)n64, (unsigned long long)cds64, (unsigned long long)cdo64, n16, cds32, cdo32);
        nent = n64;
        cdsize = cds64;
        cdoff = cdo64;
        cd_limit = zo;
    } else if (cds32 == Z64_PH || cdo32 == Z64_PH)
        return bone_fail(e, "%s: its end record holds the zip64 placeholder 0xFFFFFFFF (central directory size or offset), "
                            "but no zip64 end record and locator precede it", what);
    if (cdoff > cd_limit || cdsize > cd_limit - cdoff)
        return bone_fail(e, "%s: truncated or damaged: the central directory (offset %llu, %llu bytes) runs past its end "
                            "record", what, (unsigned long long)cdoff, (unsigned long long)cdsize);
    if (nent == 0) return bone_fail(e, "%s: an empty zip archive (no data.pkl)", what);
    if (nent > cdsize / 46)
        return bone_fail(e, "%s: damaged: %llu entries cannot fit in a %llu-byte central directory (46 bytes or more each)",
                         what, (unsigned long long)nent, (unsigned long long)cdsize);
    zent *z = xcalloc((size_t)nent, sizeof *z);
    int rc = 0;
    uint64_t p = cdoff, cdend = cdoff + cdsize;
    for (uint64_t i = 0; i < nent; i++) {
        if (cdend - p < 46 || rd32(b + p) != 0x02014b50u) {
            rc = bone_fail(e, "%s: damaged central directory at entry %llu (offset %llu)", what, (unsigned long long)i,
                           (unsigned long long)p);
            goto done;
        }
        const uint8_t *C = b + p;
        uint16_t flags = rd16(C + 8), method = rd16(C + 10), nlen = rd16(C + 28), xlen = rd16(C + 30), clen = rd16(C + 32);
        uint32_t crc = rd32(C + 16), cs32 = rd32(C + 20), us32 = rd32(C + 24), lho32 = rd32(C + 42);
        if (cdend - p - 46 < (uint64_t)nlen + xlen + clen) {
            rc = bone_fail(e, "%s: central directory entry %llu runs past the directory", what, (unsigned long long)i);
            goto done;
        }
        z[i].name = (const char *)C + 46;
        z[i].nlen = nlen;
        const char *nm = z[i].name;
        int nl = nlen > 200 ? 200 : nlen;
        if (rd16(C + 34)) {
            rc = bone_fail(e, "%s: entry %.*s starts on disk %u (a multi-disk archive)", what, nl, nm, rd16(C + 34));
            goto done;
        }
        /* the zip64 extra field holds 64-bit values for exactly the fields set to the placeholder, in
         * the order uncompressed size, compressed size, local-header offset (APPNOTE 4.5.3) */
        const uint8_t *x64;
        size_t x64n, want = 8u * (size_t)((us32 == Z64_PH) + (cs32 == Z64_PH) + (lho32 == Z64_PH));
        if (extra_z64(what, "central", nl, nm, C + 46 + nlen, xlen, &x64, &x64n, e)) { rc = -1; goto done; }
        if (want && !x64) {
            rc = bone_fail(e, "%s: entry %.*s: its central header sets %zu size/offset field%s to the zip64 placeholder "
                              "0xFFFFFFFF but has no zip64 extra field", what, nl, nm, want / 8, want > 8 ? "s" : "");
            goto done;
        }
        if (x64 && x64n != want) {
            rc = bone_fail(e, "%s: entry %.*s: its central zip64 extra field holds %zu bytes, but the %zu field%s set to "
                              "0xFFFFFFFF need exactly %zu", what, nl, nm, x64n, want / 8, want == 8 ? "" : "s", want);
            goto done;
        }
        uint64_t usize = us32, csize = cs32, lho = lho32;
        size_t q = 0;
        if (us32 == Z64_PH) { usize = rd64(x64 + q); q += 8; }
        if (cs32 == Z64_PH) { csize = rd64(x64 + q); q += 8; }
        if (lho32 == Z64_PH) lho = rd64(x64 + q);
        if (flags & 0x41) {
            rc = bone_fail(e, "%s: entry %.*s is encrypted", what, nl, nm);
            goto done;
        }
        if (method != 0) {
            rc = bone_fail(e, "%s: entry %.*s is compressed (zip method %u%s); torch writes stored entries and bone reads "
                              "only those", what, nl, nm, method, method == 8 ? ", deflate" : "");
            goto done;
        }
        if (csize != usize) {
            rc = bone_fail(e, "%s: entry %.*s is stored but its sizes differ (%llu vs %llu)", what, nl, nm,
                           (unsigned long long)csize, (unsigned long long)usize);
            goto done;
        }
        /* the local header: same name and method; data follows it; an optional descriptor after */
        if (lho > cdoff || cdoff - lho < 30 || rd32(b + lho) != 0x04034b50u) {
            rc = bone_fail(e, "%s: entry %.*s: no local header at offset %llu (past the end of the entries?)", what, nl,
                           nm, (unsigned long long)lho);
            goto done;
        }
        const uint8_t *L = b + lho;
        uint16_t lnl = rd16(L + 26), lxl = rd16(L + 28);
        if (cdoff - lho - 30 < (uint64_t)lnl + lxl || lnl != nlen || memcmp(L + 30, nm, nlen) || rd16(L + 8) != method) {
            rc = bone_fail(e, "%s: entry %.*s: its local header does not match the central directory", what, nl, nm);
            goto done;
        }
        uint64_t data = lho + 30 + lnl + lxl;
        const uint8_t *l64;
        size_t l64n;
        if (extra_z64(what, "local", nl, nm, L + 30 + lnl, lxl, &l64, &l64n, e)) { rc = -1; goto done; }
        uint32_t lcs32 = rd32(L + 18), lus32 = rd32(L + 22);
        int desc = rd16(L + 6) & 8;
        if (l64) {
            /* both sizes (APPNOTE 4.5.3), then the header's own offset where miniz (torch) writes it for a
             * header past 4 GiB; or that offset alone (miniz: a small entry past 4 GiB) */
            if (l64n != 8 && l64n != 16 && l64n != 24) {
                rc = bone_fail(e, "%s: entry %.*s: its local zip64 extra field holds %zu bytes; expected 16 (both sizes), "
                                  "24 (both sizes and the header offset) or 8 (the header offset)", what, nl, nm, l64n);
                goto done;
            }
            if (l64n == 8 && (lus32 == Z64_PH || lcs32 == Z64_PH)) {
                rc = bone_fail(e, "%s: entry %.*s: its local header sets a size to the zip64 placeholder 0xFFFFFFFF, but "
                                  "its zip64 extra field holds no sizes", what, nl, nm);
                goto done;
            }
            if (l64n != 16 && rd64(l64 + l64n - 8) != lho) {
                rc = bone_fail(e, "%s: entry %.*s: its local zip64 extra field gives the header offset %llu, but the "
                                  "header is at %llu", what, nl, nm, (unsigned long long)rd64(l64 + l64n - 8),
                               (unsigned long long)lho);
                goto done;
            }
            /* with a data descriptor the local values may be 0 (miniz leaves the compressed size 0) */
            uint64_t lu = l64n >= 16 ? rd64(l64) : usize, lc = l64n >= 16 ? rd64(l64 + 8) : csize;
            if ((lu != usize && !(desc && !lu)) || (lc != csize && !(desc && !lc))) {
                rc = bone_fail(e, "%s: entry %.*s: its local zip64 extra field gives the sizes %llu/%llu, the central "
                                  "directory %llu/%llu", what, nl, nm, (unsigned long long)lu, (unsigned long long)lc,
                               (unsigned long long)usize, (unsigned long long)csize);
                goto done;
            }
        } else if (!desc && (lus32 == Z64_PH || lcs32 == Z64_PH)) {
            rc = bone_fail(e, "%s: entry %.*s: its local header sets a size to the zip64 placeholder 0xFFFFFFFF but has "
                              "no zip64 extra field", what, nl, nm);
            goto done;
        }
        if (csize > cdoff - data) {
            rc = bone_fail(e, "%s: entry %.*s: its %llu bytes of data run past the end of the entries (offset %llu)", what,
                           nl, nm, (unsigned long long)csize, (unsigned long long)data);
            goto done;
        }
        uint64_t end = data + csize;
        if (desc) { /* data descriptor: [PK\7\8] crc csize usize, the sizes 8 bytes each after a zip64 local header */
            uint64_t d = end, w = l64 ? 8 : 4;
            if (cdoff - d >= 4 && rd32(b + d) == 0x08074b50u) d += 4;
            if (cdoff - d < 4 + 2 * w || rd32(b + d) != crc ||
                (w == 8 ? rd64(b + d + 4) : rd32(b + d + 4)) != csize ||
                (w == 8 ? rd64(b + d + 12) : rd32(b + d + 8)) != usize) {
                rc = bone_fail(e, "%s: entry %.*s: its %s data descriptor is missing or disagrees with the central "
                                  "directory", what, nl, nm, w == 8 ? "zip64 (24-byte)" : "16-byte");
                goto done;
            }
            end = d + 4 + 2 * w;
        } else if (rd32(L + 14) != crc || (lcs32 == Z64_PH ? rd64(l64 + 8) : lcs32) != csize ||
                   (lus32 == Z64_PH ? rd64(l64) : lus32) != usize) {
            rc = bone_fail(e, "%s: entry %.*s: its local header sizes/CRC disagree with the central directory", what, nl,
                           nm);
            goto done;
        }
        z[i].lho = lho;
        z[i].data = data;
        z[i].size = csize;
        z[i].end = end;
        z[i].crc = crc;
        p += 46 + (uint64_t)nlen + xlen + clen;
    }
    /* entries must not overlap (an overlapping-entry zip bomb reuses one block many times) */
    qsort(z, (size_t)nent, sizeof *z, cmp_zoff);
    for (uint64_t i = 0; i + 1 < nent; i++)
        if (z[i].end > z[i + 1].lho) {
            rc = bone_fail(e, "%s: entries %.*s and %.*s overlap", what, (int)(z[i].nlen > 200 ? 200 : z[i].nlen),
                           z[i].name, (int)(z[i + 1].nlen > 200 ? 200 : z[i + 1].nlen), z[i + 1].name);
            goto done;
        }
    qsort(z, (size_t)nent, sizeof *z, cmp_zname);
    for (uint64_t i = 0; i + 1 < nent; i++)
        if (!cmp_zname(&z[i], &z[i + 1])) {
            rc = bone_fail(e, "%s: the zip holds two entries named %.*s", what, (int)(z[i].nlen > 200 ? 200 : z[i].nlen),
                           z[i].name);
            goto done;
        }
done:
    if (rc) {
        free(z);
        return rc;
    }
    *out = z;
    *nout = (int64_t)nent;
    return 0;
}

static const zent *zfind(const zent *z, int64_t n, const char *name) {
    zent key = {name, strlen(name), 0, 0, 0, 0, 0};
    return bsearch(&key, z, (size_t)n, sizeof *z, cmp_zname);
}

/* ---- the pickle machine --------------------------------------------------------------------
 * Values live in one growing array and are referred to by index (the memo and containers share
 * them, as Python's objects would). Nothing is ever called: REDUCE is interpreted only for the two
 * allowed callables, and every other global is refused when it is named. */
typedef enum { V_NONE, V_BOOL, V_INT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR } vkind;
enum { G_REBUILD, G_ODICT, G_ST_BF16, G_ST_F16, G_ST_F32 };
static const struct { const char *mod, *name; } GLOBALS[] = {
    {"torch._utils", "_rebuild_tensor_v2"}, {"collections", "OrderedDict"}, {"torch", "BFloat16Storage"},
    {"torch", "HalfStorage"}, {"torch", "FloatStorage"},
};

typedef struct pval {
    vkind k;
    int64_t i;       /* INT, BOOL; GLOBAL: G_*; STORAGE: storage index; TENSOR: tensor index */
    const char *s;   /* STR: into the pickle */
    size_t sn;
    int64_t *it;     /* TUPLE/LIST: items; DICT: key, value, key, value, ... */
    int64_t n, cap;
} pval;

typedef struct pstorage {
    const char *key;
    size_t keyn;
    bone_dtype dt;
    int64_t numel;
    const uint8_t *data;
} pstorage;

typedef struct ptensor {
    int64_t st, off, ndim, shape[BONE_PTH_MAX_DIMS];
} ptensor;

typedef struct vm {
    const char *what;
    const uint8_t *img;
    const zent *z;
    int64_t nz;
    const char *prefix; /* "archive/" */
    size_t prefn;
    pval *v;
    int64_t nv, capv;
    int64_t *stack;     /* value indices; -1 = MARK */
    int64_t sp, capst;
    int64_t *memo;
    int64_t nmemo, capmemo;
    pstorage *st;
    int64_t nst, capst2;
    int64_t *sslot;     /* storage key hash table: index + 1, 0 = empty; a power of two >= 2·nst */
    int64_t nsslot;
    ptensor *tn;
    int64_t ntn, captn;
    size_t pos;         /* offset of the opcode being run, for messages */
} vm;

static int64_t newv(vm *m, vkind k) {
    if (m->nv == m->capv) {
        m->capv = m->capv ? m->capv * 2 : 256;
        m->v = xrealloc(m->v, (size_t)m->capv * sizeof *m->v);
    }
    memset(&m->v[m->nv], 0, sizeof *m->v);
    m->v[m->nv].k = k;
    return m->nv++;
}
static void additem(pval *p, int64_t x) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->it = xrealloc(p->it, (size_t)p->cap * sizeof *p->it);
    }
    p->it[p->n++] = x;
}
static int push(vm *m, int64_t x, bone_err *e) {
    if (m->sp >= PTH_MAX_STACK) return bone_fail(e, "%s: data.pkl: the pickle stack grows past %d entries", m->what, PTH_MAX_STACK);
    if (m->sp == m->capst) {
        m->capst = m->capst ? m->capst * 2 : 64;
        m->stack = xrealloc(m->stack, (size_t)m->capst * sizeof *m->stack);
    }
    m->stack[m->sp++] = x;
    return 0;
}
static int pop(vm *m, int64_t *x, bone_err *e) {
    if (!m->sp || m->stack[m->sp - 1] < 0)
        return bone_fail(e, "%s: data.pkl byte %zu: the opcode needs a value and the stack has none", m->what, m->pos);
    *x = m->stack[--m->sp];
    return 0;
}
/* the values above the topmost MARK, which is removed; *from = their first stack index */
static int pop_mark(vm *m, int64_t *from, bone_err *e) {
    int64_t k = m->sp;
    while (k > 0 && m->stack[k - 1] >= 0) k--;
    if (k == 0) return bone_fail(e, "%s: data.pkl byte %zu: no MARK on the stack", m->what, m->pos);
    *from = k; /* items are stack[k .. sp-1]; the mark is at k-1 */
    return 0;
}

static const char *kind_name(vkind k) {
    static const char *n[] = {"None", "bool", "int", "str", "tuple", "list", "dict", "global", "storage", "tensor"};
    return n[k];
}

static int expect(vm *m, int64_t x, vkind k, const char *role, bone_err *e) {
    if (m->v[x].k != k)
        return bone_fail(e, "%s: data.pkl byte %zu: %s is a %s, expected a %s", m->what, m->pos, role, kind_name(m->v[x].k),
                         kind_name(k));
    return 0;
}

/* BINPERSID: ('storage', <storage type>, key, location, numel) → a storage bound to data/<key> */
static int persistent_load(vm *m, int64_t pid, int64_t *out, bone_err *e) {
    pval *t = &m->v[pid];
    if (t->k != V_TUPLE || t->n != 5)
        return bone_fail(e, "%s: data.pkl byte %zu: a persistent id that is not ('storage', type, key, location, numel)",
                         m->what, m->pos);
    pval *tag = &m->v[t->it[0]], *ty = &m->v[t->it[1]], *key = &m->v[t->it[2]], *loc = &m->v[t->it[3]],
         *num = &m->v[t->it[4]];
    if (tag->k != V_STR || tag->sn != 7 || memcmp(tag->s, "storage", 7) || ty->k != V_GLOBAL || ty->i < G_ST_BF16 ||
        key->k != V_STR || loc->k != V_STR || num->k != V_INT || num->i < 0)
        return bone_fail(e, "%s: data.pkl byte %zu: a persistent id that is not ('storage', torch.<Type>Storage, key, "
                            "location, numel)", m->what, m->pos);
    bone_dtype dt = ty->i == G_ST_BF16 ? BONE_BF16 : ty->i == G_ST_F16 ? BONE_F16 : BONE_F32;
    if (key->sn == 0 || key->sn > 64)
        return bone_fail(e, "%s: data.pkl byte %zu: a storage key of %zu bytes", m->what, m->pos, key->sn);
    uint64_t h = bone_fnv1a64(BONE_FNV1A64_INIT, key->s, key->sn);
    for (uint64_t j = m->nsslot ? h & (uint64_t)(m->nsslot - 1) : 0; m->nsslot && m->sslot[j]; j = (j + 1) & (uint64_t)(m->nsslot - 1)) {
        int64_t i = m->sslot[j] - 1;
        if (m->st[i].keyn == key->sn && !memcmp(m->st[i].key, key->s, key->sn)) {
            if (m->st[i].dt != dt || m->st[i].numel != num->i)
                return bone_fail(e, "%s: data.pkl: storage %.*s is named twice with different types or sizes", m->what,
                                 (int)key->sn, key->s);
            int64_t x = newv(m, V_STORAGE);
            m->v[x].i = i;
            *out = x;
            return 0;
        }
    }
    char name[512];
    snprintf(name, sizeof name, "%.*sdata/%.*s", (int)m->prefn, m->prefix, (int)key->sn, key->s);
    const zent *z = zfind(m->z, m->nz, name);
    if (!z) return bone_fail(e, "%s: data.pkl names storage %.*s, but the zip has no entry %s", m->what, (int)key->sn, key->s, name);
    uint64_t es = bone_dtype_size(dt);
    if ((uint64_t)num->i > UINT64_MAX / es || z->size != (uint64_t)num->i * es)
        return bone_fail(e, "%s: storage %s holds %llu bytes, but data.pkl says %lld elements of %llu bytes", m->what, name,
                         (unsigned long long)z->size, (long long)num->i, (unsigned long long)es);
    if (m->nst == m->capst2) {
        m->capst2 = m->capst2 ? m->capst2 * 2 : 64;
        m->st = xrealloc(m->st, (size_t)m->capst2 * sizeof *m->st);
    }
    m->st[m->nst] = (pstorage){key->s, key->sn, dt, num->i, m->img + z->data};
    if (2 * (m->nst + 1) > m->nsslot) { /* grow the key table and re-insert */
        m->nsslot = m->nsslot ? m->nsslot * 2 : 64;
        free(m->sslot);
        m->sslot = xcalloc((size_t)m->nsslot, sizeof *m->sslot);
        for (int64_t q = 0; q <= m->nst; q++) {
            uint64_t j = bone_fnv1a64(BONE_FNV1A64_INIT, m->st[q].key, m->st[q].keyn) & (uint64_t)(m->nsslot - 1);
            while (m->sslot[j]) j = (j + 1) & (uint64_t)(m->nsslot - 1);
            m->sslot[j] = q + 1;
        }
    } else {
        uint64_t j = h & (uint64_t)(m->nsslot - 1);
        while (m->sslot[j]) j = (j + 1) & (uint64_t)(m->nsslot - 1);
        m->sslot[j] = m->nst + 1;
    }
    int64_t x = newv(m, V_STORAGE);
    m->v[x].i = m->nst++;
    *out = x;
    return 0;
}

/* REDUCE of _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static int rebuild_tensor(vm *m, int64_t args, int64_t *out, bone_err *e) {
    pval *a = &m->v[args];
    if (a->n != 6 && a->n != 7)
        return bone_fail(e, "%s: data.pkl byte %zu: _rebuild_tensor_v2 with %lld arguments (expected 6 or 7)", m->what,
                         m->pos, (long long)a->n);
    if (expect(m, a->it[0], V_STORAGE, "the tensor's storage", e) || expect(m, a->it[1], V_INT, "the storage offset", e) ||
        expect(m, a->it[2], V_TUPLE, "the tensor's size", e) || expect(m, a->it[3], V_TUPLE, "the tensor's stride", e) ||
        expect(m, a->it[4], V_BOOL, "requires_grad", e) || expect(m, a->it[5], V_DICT, "the backward hooks", e))
        return -1;
    if (m->v[a->it[5]].n) return bone_fail(e, "%s: data.pkl byte %zu: a tensor with backward hooks", m->what, m->pos);
    if (a->n == 7 && m->v[a->it[6]].k != V_NONE && m->v[a->it[6]].k != V_DICT)
        return bone_fail(e, "%s: data.pkl byte %zu: tensor metadata that is not a dict", m->what, m->pos);
    const pval *sz = &m->v[a->it[2]], *sd = &m->v[a->it[3]];
    const pstorage *st = &m->st[m->v[a->it[0]].i];
    if (sz->n > BONE_PTH_MAX_DIMS || sd->n != sz->n)
        return bone_fail(e, "%s: data.pkl byte %zu: a tensor with %lld dims and %lld strides (at most %d dims)", m->what,
                         m->pos, (long long)sz->n, (long long)sd->n, BONE_PTH_MAX_DIMS);
    ptensor t = {m->v[a->it[0]].i, m->v[a->it[1]].i, sz->n, {0}};
    int64_t numel = 1, want = 1;
    for (int64_t d = 0; d < sz->n; d++) {
        const pval *x = &m->v[sz->it[d]];
        if (x->k != V_INT || x->i < 0 || (x->i && numel > INT64_MAX / 8 / x->i))
            return bone_fail(e, "%s: data.pkl byte %zu: tensor size entry %lld is not a count below 2^60", m->what, m->pos,
                             (long long)d);
        t.shape[d] = x->i;
        numel *= x->i;
        if (m->v[sd->it[d]].k != V_INT) return bone_fail(e, "%s: data.pkl byte %zu: a stride that is not an int", m->what, m->pos);
    }
    for (int64_t d = sz->n - 1; d >= 0 && numel; d--) { /* contiguous (row-major); size-1 dims' strides are free */
        if (t.shape[d] != 1 && m->v[sd->it[d]].i != want)
            return bone_fail(e, "%s: data.pkl byte %zu: a non-contiguous tensor (dim %lld has stride %lld, expected %lld); "
                                "save tensors with .contiguous()", m->what, m->pos, (long long)d,
                             (long long)m->v[sd->it[d]].i, (long long)want);
        want *= t.shape[d];
    }
    if (t.off < 0 || t.off > st->numel || numel > st->numel - t.off)
        return bone_fail(e, "%s: data.pkl byte %zu: a tensor of %lld elements at offset %lld runs past its storage %.*s of "
                            "%lld elements", m->what, m->pos, (long long)numel, (long long)t.off, (int)st->keyn, st->key,
                         (long long)st->numel);
    if (m->ntn == m->captn) {
        m->captn = m->captn ? m->captn * 2 : 64;
        m->tn = xrealloc(m->tn, (size_t)m->captn * sizeof *m->tn);
    }
    m->tn[m->ntn] = t;
    *out = newv(m, V_TENSOR);
    m->v[*out].i = m->ntn++;
    return 0;
}

static int need(vm *m, const uint8_t *pk, size_t n, size_t at, size_t k, bone_err *e) {
    (void)pk;
    if (n - at < k) return bone_fail(e, "%s: data.pkl is truncated (opcode at byte %zu)", m->what, m->pos);
    return 0;
}

/* Runs the pickle; *result = the value STOP returns. */
static int run(vm *m, const uint8_t *pk, size_t n, int64_t *result, bone_err *e) {
    size_t i = 0;
    int seen_proto = 0;
    for (;;) {
        if (i >= n) return bone_fail(e, "%s: data.pkl is truncated (no STOP opcode)", m->what);
        m->pos = i;
        if (m->nv > PTH_MAX_VALUES) return bone_fail(e, "%s: data.pkl builds more than %d values", m->what, PTH_MAX_VALUES);
        uint8_t op = pk[i++];
        int64_t x = 0, y = 0, from;
        switch (op) {
        case 0x80: /* PROTO */
            if (need(m, pk, n, i, 1, e)) return -1;
            if (pk[i] != 2 || seen_proto || m->pos)
                return bone_fail(e, "%s: data.pkl is pickle protocol %u; torch.save writes protocol 2 and bone reads only "
                                    "that", m->what, pk[i]);
            seen_proto = 1;
            i++;
            break;
        case 'c': { /* GLOBAL module\nname\n: only the allow-list, refused by name otherwise */
            const uint8_t *a = memchr(pk + i, '\n', n - i), *b2 = a ? memchr(a + 1, '\n', n - (size_t)(a + 1 - pk)) : NULL;
            if (!b2) return bone_fail(e, "%s: data.pkl is truncated in a GLOBAL opcode", m->what);
            size_t ml = (size_t)(a - (pk + i)), nl = (size_t)(b2 - a - 1);
            int g = -1;
            for (int k = 0; k < (int)(sizeof GLOBALS / sizeof *GLOBALS); k++)
                if (strlen(GLOBALS[k].mod) == ml && !memcmp(GLOBALS[k].mod, pk + i, ml) && strlen(GLOBALS[k].name) == nl &&
                    !memcmp(GLOBALS[k].name, a + 1, nl))
                    g = k;
            if (g < 0)
                return bone_fail(e, "%s: data.pkl names the global %.*s.%.*s, which a tensor state dict does not use "
                                    "(refused; bone never runs pickled code)", m->what, (int)(ml > 100 ? 100 : ml),
                                 (const char *)pk + i, (int)(nl > 100 ? 100 : nl), (const char *)a + 1);
            x = newv(m, V_GLOBAL);
            m->v[x].i = g;
            if (push(m, x, e)) return -1;
            i = (size_t)(b2 + 1 - pk);
            break;
        }
        case '}': case ']': case ')':
            if (push(m, newv(m, op == '}' ? V_DICT : op == ']' ? V_LIST : V_TUPLE), e)) return -1;
            break;
        case '(':
            if (push(m, -1, e)) return -1;
            break;
        case 'N': case 0x88: case 0x89:
            x = newv(m, op == 'N' ? V_NONE : V_BOOL);
            m->v[x].i = op == 0x88;
            if (push(m, x, e)) return -1;
            break;
        case 'K': case 'M': case 'J': case 0x8a: {
            int64_t val;
            if (op == 'K') { if (need(m, pk, n, i, 1, e)) return -1; val = pk[i]; i += 1; }
            else if (op == 'M') { if (need(m, pk, n, i, 2, e)) return -1; val = rd16(pk + i); i += 2; }
            else if (op == 'J') { if (need(m, pk, n, i, 4, e)) return -1; val = (int32_t)rd32(pk + i); i += 4; }
            else {
                if (need(m, pk, n, i, 1, e)) return -1;
                size_t k = pk[i++];
                if (k > 8) return bone_fail(e, "%s: data.pkl byte %zu: an integer of %zu bytes (at most 8)", m->what, m->pos, k);
                if (need(m, pk, n, i, k, e)) return -1;
                uint64_t u = 0;
                for (size_t q = 0; q < k; q++) u |= (uint64_t)pk[i + q] << (8 * q);
                if (k && k < 8 && (pk[i + k - 1] & 0x80)) u |= ~0ull << (8 * k); /* sign-extend */
                val = (int64_t)u;
                i += k;
            }
            x = newv(m, V_INT);
            m->v[x].i = val;
            if (push(m, x, e)) return -1;
            break;
        }
        case 'X': {
            if (need(m, pk, n, i, 4, e)) return -1;
            size_t k = rd32(pk + i);
            i += 4;
            if (need(m, pk, n, i, k, e)) return -1;
            if (bone_utf8_check((const char *)pk + i, k) != k)
                return bone_fail(e, "%s: data.pkl byte %zu: a string that is not UTF-8", m->what, m->pos);
            x = newv(m, V_STR);
            m->v[x].s = (const char *)pk + i;
            m->v[x].sn = k;
            i += k;
            if (push(m, x, e)) return -1;
            break;
        }
        case 'q': case 'r': { /* BINPUT / LONG_BINPUT: memo keys are assigned in order, as pickle does */
            size_t k = op == 'q' ? 1 : 4;
            if (need(m, pk, n, i, k, e)) return -1;
            uint64_t key = op == 'q' ? pk[i] : rd32(pk + i);
            i += k;
            if (!m->sp || m->stack[m->sp - 1] < 0) return bone_fail(e, "%s: data.pkl byte %zu: BINPUT with nothing to store", m->what, m->pos);
            if (key > (uint64_t)m->nmemo)
                return bone_fail(e, "%s: data.pkl byte %zu: memo key %llu skips ahead (next is %lld)", m->what, m->pos,
                                 (unsigned long long)key, (long long)m->nmemo);
            if (key == (uint64_t)m->nmemo) {
                if (m->nmemo == m->capmemo) {
                    m->capmemo = m->capmemo ? m->capmemo * 2 : 64;
                    m->memo = xrealloc(m->memo, (size_t)m->capmemo * sizeof *m->memo);
                }
                m->nmemo++;
            }
            m->memo[key] = m->stack[m->sp - 1];
            break;
        }
        case 'h': case 'j': {
            size_t k = op == 'h' ? 1 : 4;
            if (need(m, pk, n, i, k, e)) return -1;
            uint64_t key = op == 'h' ? pk[i] : rd32(pk + i);
            i += k;
            if (key >= (uint64_t)m->nmemo) return bone_fail(e, "%s: data.pkl byte %zu: memo key %llu was never stored", m->what, m->pos, (unsigned long long)key);
            if (push(m, m->memo[key], e)) return -1;
            break;
        }
        case 't': case 0x85: case 0x86: case 0x87: {
            int64_t k;
            if (op == 't') {
                if (pop_mark(m, &from, e)) return -1;
                k = m->sp - from;
            } else {
                k = op - 0x84;
                if (m->sp < k) return bone_fail(e, "%s: data.pkl byte %zu: TUPLE%lld with too few values", m->what, m->pos, (long long)k);
                from = m->sp - k;
                for (int64_t q = from; q < m->sp; q++)
                    if (m->stack[q] < 0) return bone_fail(e, "%s: data.pkl byte %zu: TUPLE over a MARK", m->what, m->pos);
            }
            x = newv(m, V_TUPLE);
            for (int64_t q = from; q < m->sp; q++) additem(&m->v[x], m->stack[q]);
            m->sp = op == 't' ? from - 1 : from;
            if (push(m, x, e)) return -1;
            break;
        }
        case 'Q':
            if (pop(m, &x, e) || persistent_load(m, x, &y, e) || push(m, y, e)) return -1;
            break;
        case 'R': {
            int64_t args, fn;
            if (pop(m, &args, e) || pop(m, &fn, e)) return -1;
            if (m->v[fn].k != V_GLOBAL || (m->v[fn].i != G_REBUILD && m->v[fn].i != G_ODICT))
                return bone_fail(e, "%s: data.pkl byte %zu: REDUCE calls a %s%s%s; only _rebuild_tensor_v2 and OrderedDict "
                                    "are allowed", m->what, m->pos, kind_name(m->v[fn].k), m->v[fn].k == V_GLOBAL ? " " : "",
                                 m->v[fn].k == V_GLOBAL ? GLOBALS[m->v[fn].i].name : "");
            if (expect(m, args, V_TUPLE, "REDUCE's arguments", e)) return -1;
            if (m->v[fn].i == G_ODICT) {
                if (m->v[args].n) return bone_fail(e, "%s: data.pkl byte %zu: OrderedDict called with arguments", m->what, m->pos);
                x = newv(m, V_DICT);
            } else if (rebuild_tensor(m, args, &x, e))
                return -1;
            if (push(m, x, e)) return -1;
            break;
        }
        case 'b': /* BUILD on an OrderedDict: its state is state_dict()'s _metadata, which is dropped */
            if (pop(m, &x, e)) return -1;
            if (!m->sp || m->stack[m->sp - 1] < 0 || m->v[m->stack[m->sp - 1]].k != V_DICT ||
                (m->v[x].k != V_DICT && m->v[x].k != V_NONE))
                return bone_fail(e, "%s: data.pkl byte %zu: BUILD on something other than a dict", m->what, m->pos);
            break;
        case 's': case 'u': case 'a': case 'e': {
            int dict = op == 's' || op == 'u';
            if (op == 's' || op == 'a') {
                from = m->sp - (dict ? 2 : 1);
                if (from < 1) return bone_fail(e, "%s: data.pkl byte %zu: SETITEM/APPEND with too few values", m->what, m->pos);
                for (int64_t q = from; q < m->sp; q++)
                    if (m->stack[q] < 0) return bone_fail(e, "%s: data.pkl byte %zu: SETITEM/APPEND over a MARK", m->what, m->pos);
            } else if (pop_mark(m, &from, e))
                return -1;
            int64_t tgt_at = op == 's' || op == 'a' ? from - 1 : from - 2;
            if (tgt_at < 0 || m->stack[tgt_at] < 0)
                return bone_fail(e, "%s: data.pkl byte %zu: no container below the items", m->what, m->pos);
            pval *tgt = &m->v[m->stack[tgt_at]];
            if (tgt->k != (dict ? V_DICT : V_LIST))
                return bone_fail(e, "%s: data.pkl byte %zu: %s into a %s", m->what, m->pos, dict ? "SETITEMS" : "APPENDS",
                                 kind_name(tgt->k));
            if (dict && (m->sp - from) % 2) return bone_fail(e, "%s: data.pkl byte %zu: SETITEMS with an odd count", m->what, m->pos);
            for (int64_t q = from; q < m->sp; q++) additem(&m->v[m->stack[tgt_at]], m->stack[q]);
            m->sp = tgt_at + 1;
            break;
        }
        case '.':
            if (m->sp != 1 || m->stack[0] < 0)
                return bone_fail(e, "%s: data.pkl: STOP with %lld values on the stack (expected 1)", m->what, (long long)m->sp);
            *result = m->stack[0];
            if (i != n) return bone_fail(e, "%s: data.pkl: %zu bytes after STOP", m->what, n - i);
            return 0;
        default:
            return bone_fail(e, "%s: data.pkl byte %zu: pickle opcode 0x%02x%s%c%s is not one a tensor state dict uses "
                                "(refused)", m->what, m->pos, op, op >= 0x20 && op < 0x7f ? " ('" : "",
                             op >= 0x20 && op < 0x7f ? op : ' ', op >= 0x20 && op < 0x7f ? "')" : "");
        }
        if (!seen_proto) return bone_fail(e, "%s: data.pkl does not start with PROTO 2", m->what);
    }
}

static void vm_free(vm *m) {
    for (int64_t i = 0; i < m->nv; i++) free(m->v[i].it);
    free(m->v);
    free(m->stack);
    free(m->memo);
    free(m->st);
    free(m->sslot);
    free(m->tn);
}

static int cmp_tname(const void *a, const void *b) {
    return strcmp((*(const bone_pth_tensor *const *)a)->name, (*(const bone_pth_tensor *const *)b)->name);
}

int bone_pth_parse(bone_pth *p, const char *what, const uint8_t *buf, size_t size, bone_err *e) {
    return bone_pth_parse_ex(p, what, buf, size, 1, e);
}

int bone_pth_parse_ex(bone_pth *p, const char *what, const uint8_t *buf, size_t size, int check_crc, bone_err *e) {
    memset(p, 0, sizeof *p);
    zent *z;
    int64_t nz;
    if (zip_read(what, buf, size, &z, &nz, e)) return -1;
    for (int64_t i = 0; check_crc && i < nz; i++) /* a stored entry with a wrong CRC is damaged */
        if (crc32_update(0, buf + z[i].data, z[i].size) != z[i].crc) {
            int rc = bone_fail(e, "%s: entry %.*s: CRC mismatch (damaged file)", what, (int)(z[i].nlen > 200 ? 200 : z[i].nlen),
                               z[i].name);
            free(z);
            return rc;
        }
    /* one top-level folder holds everything; data.pkl is in it */
    const char *slash = memchr(z[0].name, '/', z[0].nlen);
    size_t prefn = slash ? (size_t)(slash - z[0].name) + 1 : 0;
    char dp[512];
    if (!prefn || prefn > 200) {
        free(z);
        return bone_fail(e, "%s: the zip's entries are not in one top-level folder (as torch.save writes them)", what);
    }
    for (int64_t i = 0; i < nz; i++)
        if (z[i].nlen < prefn || memcmp(z[i].name, z[0].name, prefn)) {
            int rc = bone_fail(e, "%s: the zip's entries are not all in one top-level folder %.*s", what, (int)prefn, z[0].name);
            free(z);
            return rc;
        }
    snprintf(dp, sizeof dp, "%.*sdata.pkl", (int)prefn, z[0].name);
    const zent *pk = zfind(z, nz, dp);
    if (!pk) {
        free(z);
        return bone_fail(e, "%s: no %s in the zip (not a torch.save file?)", what, dp);
    }
    if (pk->size > PTH_MAX_PICKLE) {
        free(z);
        return bone_fail(e, "%s: data.pkl is %llu bytes (more than %llu)", what, (unsigned long long)pk->size, PTH_MAX_PICKLE);
    }
    vm m = {0};
    m.what = what;
    m.img = buf;
    m.z = z;
    m.nz = nz;
    m.prefix = z[0].name;
    m.prefn = prefn;
    int64_t res = 0;
    int rc = run(&m, buf + pk->data, pk->size, &res, e);
    if (!rc && m.v[res].k != V_DICT)
        rc = bone_fail(e, "%s: data.pkl holds a %s, not a dict of tensors", what, kind_name(m.v[res].k));
    if (!rc) {
        const pval *d = &m.v[res];
        p->n = d->n / 2;
        p->t = xcalloc((size_t)(p->n ? p->n : 1), sizeof *p->t);
        for (int64_t i = 0; i < p->n && !rc; i++) {
            const pval *k = &m.v[d->it[2 * i]], *v = &m.v[d->it[2 * i + 1]];
            if (k->k != V_STR) { rc = bone_fail(e, "%s: data.pkl: a dict key that is a %s, not a name", what, kind_name(k->k)); break; }
            if (v->k != V_TENSOR) {
                rc = bone_fail(e, "%s: data.pkl: %.*s is a %s, not a tensor", what, (int)(k->sn > 200 ? 200 : k->sn), k->s,
                               kind_name(v->k));
                break;
            }
            if (memchr(k->s, 0, k->sn)) { rc = bone_fail(e, "%s: data.pkl: a tensor name with a NUL byte", what); break; }
            const ptensor *t = &m.tn[v->i];
            const pstorage *s = &m.st[t->st];
            bone_pth_tensor *o = &p->t[i];
            o->name = xmalloc(k->sn + 1);
            memcpy(o->name, k->s, k->sn);
            o->name[k->sn] = 0;
            o->dtype = s->dt;
            o->ndim = (int)t->ndim;
            o->numel = 1;
            for (int q = 0; q < o->ndim; q++) {
                o->shape[q] = t->shape[q];
                o->numel *= t->shape[q];
            }
            o->nbytes = (uint64_t)o->numel * bone_dtype_size(s->dt);
            o->data = s->data + (uint64_t)t->off * bone_dtype_size(s->dt);
        }
        if (!rc) { /* duplicate names */
            const bone_pth_tensor **ix = xmalloc((size_t)(p->n ? p->n : 1) * sizeof *ix);
            for (int64_t i = 0; i < p->n; i++) ix[i] = &p->t[i];
            qsort(ix, (size_t)p->n, sizeof *ix, cmp_tname);
            for (int64_t i = 0; i + 1 < p->n && !rc; i++)
                if (!strcmp(ix[i]->name, ix[i + 1]->name)) rc = bone_fail(e, "%s: data.pkl names tensor %.200s twice", what, ix[i]->name);
            free(ix);
        }
    }
    vm_free(&m);
    free(z);
    if (rc) bone_pth_close(p);
    return rc;
}

int bone_pth_open(bone_pth *p, const char *path, bone_err *e) {
    memset(p, 0, sizeof *p);
    void *map;
    size_t size;
    if (bone_map_regular(path, &map, &size, e)) return -1;
    if (bone_pth_parse(p, path, map ? map : (const uint8_t *)"", size, e)) {
        if (map) munmap(map, size);
        return -1;
    }
    p->map = map;
    p->size = size;
    p->path = xstrdup(path);
    return 0;
}

const bone_pth_tensor *bone_pth_find(const bone_pth *p, const char *name) {
    for (int64_t i = 0; i < p->n; i++)
        if (!strcmp(p->t[i].name, name)) return &p->t[i];
    return NULL;
}

void bone_pth_close(bone_pth *p) {
    for (int64_t i = 0; i < p->n; i++) free(p->t[i].name);
    free(p->t);
    if (p->map) munmap(p->map, p->size);
    free(p->path);
    memset(p, 0, sizeof *p);
}

/* ---- writer ------------------------------------------------------------------------------- */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;
static void wb_add(wbuf *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void wb_u8(wbuf *b, unsigned v) { uint8_t c = (uint8_t)v; wb_add(b, &c, 1); }
static void wb_u16(wbuf *b, unsigned v) { wb_u8(b, v & 0xff); wb_u8(b, (v >> 8) & 0xff); }
static void wb_u32(wbuf *b, uint32_t v) { wb_u16(b, v & 0xffff); wb_u16(b, v >> 16); }
static void pk_str(wbuf *b, const char *s) {
    wb_u8(b, 'X');
    wb_u32(b, (uint32_t)strlen(s));
    wb_add(b, s, strlen(s));
}
static void pk_int(wbuf *b, int64_t v) {
    if (v >= 0 && v < 256) { wb_u8(b, 'K'); wb_u8(b, (unsigned)v); }
    else if (v >= 0 && v < 65536) { wb_u8(b, 'M'); wb_u16(b, (unsigned)v); }
    else if (v >= INT32_MIN && v <= INT32_MAX) { wb_u8(b, 'J'); wb_u32(b, (uint32_t)(int32_t)v); }
    else { /* LONG1, 8 bytes two's complement */
        wb_u8(b, 0x8a);
        wb_u8(b, 8);
        for (int k = 0; k < 8; k++) wb_u8(b, (unsigned)((uint64_t)v >> (8 * k)) & 0xff);
    }
}
static void pk_tuple(wbuf *b, const int64_t *v, int n) {
    wb_u8(b, '(');
    for (int i = 0; i < n; i++) pk_int(b, v[i]);
    wb_u8(b, 't');
}

static void wb_u64(wbuf *b, uint64_t v) { wb_u32(b, (uint32_t)v); wb_u32(b, (uint32_t)(v >> 32)); }

/* One zip entry: local header with a 'FB' padding extra field so the data starts on a 64-byte
 * boundary (torch does the same, so storages can be mapped in place), then the data. An entry of
 * 4 GiB or more carries its sizes in a zip64 extra field before the padding (as torch's does), and
 * one that starts at 4 GiB or later its offset in the central one; z64 forces both (tests). *used64
 * is set when the entry needed zip64. */
static int put_entry(bone_afile *a, wbuf *cd, uint64_t *off, const char *name, const void *data, uint64_t n, int z64,
                     int *used64, bone_err *e) {
    int zs = z64 || n >= Z64_PH, zo = z64 || *off >= Z64_PH;
    *used64 |= zs || zo;
    uint32_t crc = crc32_update(0, data, (size_t)n);
    size_t nl = strlen(name);
    uint64_t hdr = 30 + nl + (zs ? 20 : 0) + 4, pad = (64 - (*off + hdr) % 64) % 64;
    wbuf h = {0};
    wb_u32(&h, 0x04034b50u);
    wb_u16(&h, zs ? 45 : 20); /* version needed: 4.5 for zip64 */
    wb_u16(&h, 0x0800);       /* UTF-8 names */
    wb_u16(&h, 0);            /* stored */
    wb_u16(&h, 0);
    wb_u16(&h, 0x21);         /* 1980-01-01: no timestamps, reproducible */
    wb_u32(&h, crc);
    wb_u32(&h, zs ? Z64_PH : (uint32_t)n);
    wb_u32(&h, zs ? Z64_PH : (uint32_t)n);
    wb_u16(&h, (unsigned)nl);
    wb_u16(&h, (unsigned)((zs ? 20 : 0) + 4 + pad));
    wb_add(&h, name, nl);
    if (zs) { /* zip64 extended information: uncompressed, compressed size */
        wb_u16(&h, 0x0001);
        wb_u16(&h, 16);
        wb_u64(&h, n);
        wb_u64(&h, n);
    }
    wb_u16(&h, 0x4246); /* "FB": padding */
    wb_u16(&h, (unsigned)pad);
    for (uint64_t k = 0; k < pad; k++) wb_u8(&h, 'Z');
    int rc = bone_afile_write(a, h.p, h.n, e);
    free(h.p);
    if (rc || (n && bone_afile_write(a, data, (size_t)n, e))) return -1;
    unsigned x64 = 8u * (2u * (unsigned)zs + (unsigned)zo);
    wb_u32(cd, 0x02014b50u);
    wb_u16(cd, zs || zo ? 45 : 20);
    wb_u16(cd, zs || zo ? 45 : 20);
    wb_u16(cd, 0x0800);
    wb_u16(cd, 0);
    wb_u16(cd, 0);
    wb_u16(cd, 0x21);
    wb_u32(cd, crc);
    wb_u32(cd, zs ? Z64_PH : (uint32_t)n);
    wb_u32(cd, zs ? Z64_PH : (uint32_t)n);
    wb_u16(cd, (unsigned)nl);
    wb_u16(cd, x64 ? 4 + x64 : 0);
    wb_u16(cd, 0);
    wb_u16(cd, 0);
    wb_u16(cd, 0);
    wb_u32(cd, 0);
    wb_u32(cd, zo ? Z64_PH : (uint32_t)*off);
    wb_add(cd, name, nl);
    if (x64) { /* the 64-bit values of exactly the fields set to 0xFFFFFFFF, in APPNOTE order */
        wb_u16(cd, 0x0001);
        wb_u16(cd, x64);
        if (zs) {
            wb_u64(cd, n);
            wb_u64(cd, n);
        }
        if (zo) wb_u64(cd, *off);
    }
    *off += hdr + pad + n;
    return 0;
}

int bone_pth_write(const char *path, const bone_pth_wtensor *t, int64_t n, bone_err *e) {
    return bone_pth_write_ex(path, t, n, NULL, e);
}

int bone_pth_write_ex(const char *path, const bone_pth_wtensor *t, int64_t n, const bone_pth_wopts *o, bone_err *e) {
    int force64 = o && o->force_zip64;
    /* data.pkl: {name: _rebuild_tensor_v2(storage N, 0, size, stride, False, OrderedDict())} */
    wbuf pk = {0};
    wb_u8(&pk, 0x80);
    wb_u8(&pk, 2);
    wb_u8(&pk, '}');
    wb_u8(&pk, '(');
    for (int64_t i = 0; i < n; i++) {
        if (t[i].ndim < 0 || t[i].ndim > BONE_PTH_MAX_DIMS) {
            free(pk.p);
            return bone_fail(e, "%s: tensor %s has %d dims", path, t[i].name, t[i].ndim);
        }
        int64_t numel = 1, stride[BONE_PTH_MAX_DIMS];
        for (int d = t[i].ndim - 1; d >= 0; d--) {
            stride[d] = numel;
            numel *= t[i].shape[d];
        }
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)i);
        pk_str(&pk, t[i].name);
        static const char *const stn[] = {"FloatStorage", "BFloat16Storage", "HalfStorage"};
        wb_add(&pk, "ctorch._utils\n_rebuild_tensor_v2\n", 33);
        wb_u8(&pk, '(');
        wb_u8(&pk, '(');
        pk_str(&pk, "storage");
        wb_add(&pk, "ctorch\n", 7);
        wb_add(&pk, stn[t[i].dtype], strlen(stn[t[i].dtype]));
        wb_u8(&pk, '\n');
        pk_str(&pk, key);
        pk_str(&pk, "cpu");
        pk_int(&pk, numel);
        wb_u8(&pk, 't');
        wb_u8(&pk, 'Q');
        pk_int(&pk, 0);
        pk_tuple(&pk, t[i].shape, t[i].ndim);
        pk_tuple(&pk, stride, t[i].ndim);
        wb_u8(&pk, 0x89);
        wb_add(&pk, "ccollections\nOrderedDict\n)R", 27);
        wb_u8(&pk, 't');
        wb_u8(&pk, 'R');
    }
    wb_u8(&pk, 'u');
    wb_u8(&pk, '.');
    bone_afile a;
    if (bone_afile_open(&a, path, e)) { free(pk.p); return -1; }
    wbuf cd = {0};
    uint64_t off = 0;
    int used64 = 0;
    int rc = put_entry(&a, &cd, &off, "archive/data.pkl", pk.p, pk.n, force64, &used64, e);
    free(pk.p);
    if (!rc) rc = put_entry(&a, &cd, &off, "archive/byteorder", "little", 6, force64, &used64, e);
    for (int64_t i = 0; i < n && !rc; i++) {
        char name[64];
        snprintf(name, sizeof name, "archive/data/%lld", (long long)i);
        int64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
        rc = put_entry(&a, &cd, &off, name, t[i].data, (uint64_t)numel * bone_dtype_size(t[i].dtype), force64, &used64, e);
    }
    if (!rc) rc = put_entry(&a, &cd, &off, "archive/version", "3\n", 2, force64, &used64, e);
    if (!rc) {
        /* the end records: a zip64 end record and its locator when anything needed zip64 (as miniz
         * does), then the 32-bit end record with 0xFFFF/0xFFFFFFFF placeholders for what overflows */
        uint64_t nent = (uint64_t)n + 3, cdsize = cd.n, cdoff = off;
        int z16 = force64 || nent >= 0xffff, zsz = force64 || cdsize >= Z64_PH, zof = force64 || cdoff >= Z64_PH;
        wbuf end = {0};
        if (used64 || z16 || zsz || zof) {
            wb_u32(&end, 0x06064b50u);
            wb_u64(&end, 44);  /* the record's size after these 12 bytes */
            wb_u16(&end, 45);  /* version made by */
            wb_u16(&end, 45);  /* version needed */
            wb_u32(&end, 0);   /* this disk */
            wb_u32(&end, 0);   /* the disk with the central directory */
            wb_u64(&end, nent);
            wb_u64(&end, nent);
            wb_u64(&end, cdsize);
            wb_u64(&end, cdoff);
            wb_u32(&end, 0x07064b50u); /* locator: disk, offset of the zip64 end record, disks */
            wb_u32(&end, 0);
            wb_u64(&end, cdoff + cdsize);
            wb_u32(&end, 1);
        }
        wb_u32(&end, 0x06054b50u);
        wb_u16(&end, 0);
        wb_u16(&end, 0);
        wb_u16(&end, z16 ? 0xffff : (unsigned)nent);
        wb_u16(&end, z16 ? 0xffff : (unsigned)nent);
        wb_u32(&end, zsz ? Z64_PH : (uint32_t)cdsize);
        wb_u32(&end, zof ? Z64_PH : (uint32_t)cdoff);
        wb_u16(&end, 0);
        rc = bone_afile_write(&a, cd.p, cd.n, e);
        if (!rc) rc = bone_afile_write(&a, end.p, end.n, e);
        free(end.p);
    }
    free(cd.p);
    if (rc) {
        bone_afile_abort(&a);
        return -1;
    }
    return bone_afile_commit(&a, e);
}
