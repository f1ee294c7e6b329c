/* fuzz_util.h — helpers shared by the libFuzzer targets: a scratch directory per input
 * (under $BONE_FUZZ_TMP, default /tmp) for the loaders that take paths, writing and removing
 * files there, and splitting one input into NUL-separated parts. */
#ifndef BONE_FUZZ_UTIL_H
#define BONE_FUZZ_UTIL_H
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates a fresh empty directory; returns 0 and its path in buf. */
static inline int fuzz_mkdtemp(char *buf, size_t n, const char *tag) {
    const char *base = getenv("BONE_FUZZ_TMP");
    snprintf(buf, n, "%s/bone-fuzz-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    return mkdtemp(buf) ? 0 : -1;
}

/* Writes n bytes to dir/name; aborts (a harness failure, not a finding) if it cannot. */
static inline void fuzz_write(const char *dir, const char *name, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz harness: cannot write %s\n", path);
        abort();
    }
}

/* Removes the plain files in dir (not recursive) and dir itself. */
static inline void fuzz_rmdir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char path[4096];
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Splits data at the first `k - 1` NUL bytes into at most k parts (the last part takes the
 * rest, NULs included). Parts that are absent get length 0 and pointer to an empty string.
 * Returns the number of parts present. */
static inline int fuzz_split(const uint8_t *data, size_t size, int k, const uint8_t **part, size_t *len) {
    int np = 0;
    size_t pos = 0;
    for (int i = 0; i < k; i++) {
        part[i] = (const uint8_t *)"";
        len[i] = 0;
    }
    while (np < k && pos <= size) {
        const uint8_t *nul = np + 1 < k && pos < size ? memchr(data + pos, 0, size - pos) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        part[np] = data + pos;
        len[np] = end - pos;
        np++;
        if (!nul) break;
        pos = end + 1;
    }
    return np;
}

/* A NUL-terminated copy (the caller frees). */
static inline char *fuzz_strndup(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

#endif
