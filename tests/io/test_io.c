/* test_io.c — safetensors and config.json: round trips, the reference writer layout,
 * sharded checkpoints, and hostile files (each must give a clear error naming the file and
 * the problem, never a crash — the suite also runs under ASan+UBSan); core/fs.c's atomic
 * writer, stale-temporary removal and regular-file reads. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/fs.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "testutil.h"

static char tmpdir[256];

/* a minimal valid llama config.json body */
#define BASE_CFG "\"model_type\":\"llama\",\"vocab_size\":32,\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":1,\"num_attention_heads\":2"

/* builds a file: 8-byte length + header text + data bytes */
static void put_file(const char *name, const char *header, const void *data, size_t nd, int64_t force_len) {
    char *p = bone_path_join(tmpdir, name);
    FILE *f = fopen(p, "wb");
    uint64_t n = force_len >= 0 ? (uint64_t)force_len : strlen(header);
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(n >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (nd) fwrite(data, 1, nd, f);
    fclose(f);
    free(p);
}

/* expects opening `name` to fail with a message containing every needle */
static void expect_error(const char *name, const char *n1, const char *n2) {
    char *p = bone_path_join(tmpdir, name);
    bone_st_set s;
    bone_st_init(&s);
    bone_err e = {{0}};
    int rc = bone_st_open_file(&s, p, &e);
    CHECK(rc != 0, "%s: opened although it is malformed", name);
    if (rc != 0) {
        CHECK(strstr(e.msg, p) != NULL, "%s: message does not name the file: %s", name, e.msg);
        CHECK(!n1 || strstr(e.msg, n1), "%s: message lacks \"%s\": %s", name, n1, e.msg);
        CHECK(!n2 || strstr(e.msg, n2), "%s: message lacks \"%s\": %s", name, n2, e.msg);
        printf("ok   %-22s -> %s\n", name, e.msg);
    }
    bone_st_close(&s);
    free(p);
}

static void test_hostile(void) {
    float d[6] = {1, 2, 3, 4, 5, 6};
    put_file("short.st", "", NULL, 0, -1);
    { /* truncated: 5 bytes */
        char *p = bone_path_join(tmpdir, "trunc.st");
        FILE *f = fopen(p, "wb");
        fwrite("\x10\0\0\0\0", 1, 5, f);
        fclose(f);
        free(p);
    }
    expect_error("trunc.st", "at least 8", NULL);
    put_file("pastend.st", "{}", NULL, 0, 4096);
    expect_error("pastend.st", "past the end", NULL);
    put_file("huge.st", "{}", NULL, 0, 200000000);
    expect_error("huge.st", "limit", NULL);
    put_file("notobj.st", "[1,2]   ", NULL, 0, -1);
    expect_error("notobj.st", "not a JSON object", NULL);
    put_file("badjson.st", "{\"a\":  ", NULL, 0, -1);
    expect_error("badjson.st", "JSON", NULL);
    put_file("utf8.st", "{\"\xff\xfe\":{}}  ", NULL, 0, -1);
    expect_error("utf8.st", "UTF-8", NULL);
    put_file("gap.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
             d, 20, -1);
    expect_error("gap.st", "\"b\"", "gap");
    put_file("overlap.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
             d, 12, -1);
    expect_error("overlap.st", "overlapping", NULL);
    put_file("trailing.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 12, -1);
    expect_error("trailing.st", "trailing", NULL);
    put_file("mismatch.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d, 8, -1);
    expect_error("mismatch.st", "\"a\"", "needs 12 bytes");
    put_file("baddtype.st", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8, -1);
    expect_error("baddtype.st", "unknown dtype", NULL);
    put_file("negshape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d, 8, -1);
    expect_error("negshape.st", "shape", NULL);
    put_file("fracoff.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.5]}}", d, 8, -1);
    expect_error("fracoff.st", "data_offsets", NULL);
    put_file("overflow.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}", d, 8, -1);
    expect_error("overflow.st", "overflow", NULL);
    put_file("dupname.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             d, 8, -1);
    expect_error("dupname.st", "duplicate", NULL);
    put_file("badmeta.st", "{\"__metadata__\":{\"format\":1}}", NULL, 0, -1);
    expect_error("badmeta.st", "__metadata__", NULL);
    put_file("begin_gt_end.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", d, 8, -1);
    expect_error("begin_gt_end.st", "begin", NULL);
    /* valid corner cases: empty tensor list, zero-size tensor, trailing spaces in header */
    put_file("empty.st", "{}      ", NULL, 0, -1);
    put_file("zero.st",
             "{\"z\":{\"dtype\":\"BF16\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   ",
             d, 8, -1);
    const char *ok[] = {"empty.st", "zero.st"};
    for (int i = 0; i < 2; i++) {
        char *p = bone_path_join(tmpdir, ok[i]);
        bone_st_set s;
        bone_st_init(&s);
        bone_err e;
        CHECK(bone_st_open_file(&s, p, &e) == 0, "%s should open: %s", ok[i], e.msg);
        bone_st_close(&s);
        free(p);
    }
}

static void test_roundtrip(void) {
    float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
    uint16_t hb[4] = {0x3f80, 0x4000, 0xbf80, 0x0000};
    bone_st_wtensor w[3] = {
        {"zeta", BONE_F32, 2, {2, 3}, a, NULL, NULL, NULL},
        {"alpha", BONE_BF16, 1, {4}, hb, NULL, NULL, NULL},
        {"conv", BONE_F16, 1, {6}, NULL, a, NULL, NULL},
    };
    char *p = bone_path_join(tmpdir, "rt.safetensors");
    bone_err e;
    CHECK(bone_st_write(p, w, 3, &e) == 0, "write: %s", e.msg);
    /* layout: F32 before BF16 before F16, header padded to 8, metadata first */
    char *buf;
    size_t n;
    bone_read_file(p, &buf, &n, &e);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (uint8_t)buf[i];
    CHECK(hl % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)hl);
    const char *want_hdr = "{\"__metadata__\":{\"format\":\"pt\"},\"zeta\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                           "\"data_offsets\":[0,24]},\"alpha\":{\"dtype\":\"BF16\"";
    CHECK(!strncmp(buf + 8, want_hdr, strlen(want_hdr)),
             "header not in the reference layout: %.120s", buf + 8);
    free(buf);
    bone_st_set s;
    bone_st_init(&s);
    CHECK(bone_st_open_file(&s, p, &e) == 0, "reopen: %s", e.msg);
    const bone_st_tensor *t = bone_st_find(&s, "zeta");
    CHECK(t && t->dtype == BONE_F32 && !memcmp(t->data, a, 24), "zeta round trip");
    t = bone_st_find(&s, "alpha");
    CHECK(t && t->dtype == BONE_BF16 && !memcmp(t->data, hb, 8), "alpha round trip");
    t = bone_st_find(&s, "conv");
    if (t) {
        float back[6];
        bone_to_f32(back, t->data, t->dtype, 6);
        for (int i = 0; i < 6; i++) CHECK(back[i] == bone_f16_to_f32(bone_f32_to_f16(a[i])), "f16 value %d", i);
    }
    int64_t want[1] = {5};
    CHECK(bone_st_get(&s, "alpha", 1, want, &e) == NULL && strstr(e.msg, "shape [4], expected [5]"),
             "shape check message: %s", e.msg);
    bone_st_close(&s);
    free(p);
    /* rounding conventions (FORMATS.md §1.3) */
    CHECK(bone_f32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even (down)");
    CHECK(bone_f32_to_bf16(1.01171875f) == 0x3f82, "bf16 ties to even (up)");
    CHECK(bone_f32_to_bf16(__builtin_nanf("")) == 0x7fc0, "bf16 NaN");
    CHECK(bone_f32_to_f16(65520.0f) == 0x7c00, "f16 overflow to inf");
    CHECK(bone_f32_to_f16(5.9604645e-08f) == 0x0001, "f16 smallest subnormal");
    CHECK(bone_f16_to_f32(0x3555) == 0.33325195f, "f16 decode");
}

static void test_sharded(void) {
    char *dir = bone_path_join(tmpdir, "sharded");
    bone_err e;
    bone_mkdirs(dir, &e);
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    bone_st_wtensor w1 = {"x", BONE_F32, 1, {2}, a, NULL, NULL, NULL}, w2 = {"y", BONE_F32, 1, {3}, b, NULL, NULL, NULL};
    char *p1 = bone_path_join(dir, "model-00001-of-00002.safetensors");
    char *p2 = bone_path_join(dir, "model-00002-of-00002.safetensors");
    bone_st_write(p1, &w1, 1, &e);
    bone_st_write(p2, &w2, 1, &e);
    char *ix = bone_path_join(dir, "model.safetensors.index.json");
    const char *good = "{\"metadata\":{\"total_size\":20},\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
                       "\"y\":\"model-00002-of-00002.safetensors\"}}";
    bone_write_file_atomic(ix, good, strlen(good), &e);
    bone_st_set s;
    bone_st_init(&s);
    CHECK(bone_st_open_dir(&s, dir, &e) == 0, "sharded open: %s", e.msg);
    CHECK(s.n == 2 && bone_st_find(&s, "y") && ((const float *)bone_st_find(&s, "y")->data)[2] == 5.0f,
             "sharded contents");
    bone_st_close(&s);
    const char *wrong = "{\"weight_map\":{\"x\":\"model-00002-of-00002.safetensors\","
                        "\"y\":\"model-00002-of-00002.safetensors\"}}";
    bone_write_file_atomic(ix, wrong, strlen(wrong), &e);
    bone_st_init(&s);
    CHECK(bone_st_open_dir(&s, dir, &e) != 0 && strstr(e.msg, "\"x\""), "index pointing at the wrong shard: %s",
             e.msg);
    bone_st_close(&s);
    const char *evil = "{\"weight_map\":{\"x\":\"../etc/passwd\"}}";
    bone_write_file_atomic(ix, evil, strlen(evil), &e);
    bone_st_init(&s);
    CHECK(bone_st_open_dir(&s, dir, &e) != 0 && strstr(e.msg, "plain file name"), "path in index: %s", e.msg);
    bone_st_close(&s);
    free(p1);
    free(p2);
    free(ix);
    free(dir);
}


/* number of entries in dir whose name contains needle */
static int count_entries(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, needle)) n++;
    if (d) closedir(d);
    return n;
}

static void touch(const char *dir, const char *name) {
    char *p = bone_path_join(dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs("partial", f);
        fclose(f);
    }
    free(p);
}

static void test_fs(void) {
    bone_err e = {{0}};
    /* B2: an empty path was read past its end (ASan: heap-buffer-overflow in bone_mkdirs) */
    CHECK(bone_mkdirs("", &e) != 0 && strstr(e.msg, "empty name"), "mkdirs(\"\"): %s", e.msg);
    bone_afile a;
    CHECK(bone_afile_open(&a, "", &e) != 0 && strstr(e.msg, "empty name"), "afile_open(\"\"): %s", e.msg);

    /* the temporary names the writer uses, and the older PATH.tmp.PID, are recognised; others not */
    long pid;
    size_t bl;
    CHECK(bone_temp_name_parse("step-00000003.safetensors.tmp.123.0123456789abcdef", &pid, &bl) && pid == 123 &&
                 bl == strlen("step-00000003.safetensors"), "new-style temporary name");
    CHECK(bone_temp_name_parse("config.json.tmp.4567", &pid, &bl) && pid == 4567 && bl == strlen("config.json"),
             "old-style temporary name");
    const char *not_temps[] = {"notes.tmp.txt", ".tmp.123", "a.tmp.", "a.tmp.12x", "a.tmp.1.0123", "a.tmp.1.0123456789ABCDEF",
                               "a.tmp.0", "a.tmp.99999999999", "a.tmp.1.0123456789abcdef0", "step-00000003.safetensors"};
    for (size_t i = 0; i < sizeof not_temps / sizeof not_temps[0]; i++)
        CHECK(!bone_temp_name_parse(not_temps[i], NULL, NULL), "\"%s\" taken for a temporary", not_temps[i]);

    /* the writer's temporary is such a name, in the target's directory; commit leaves none */
    char *dir = bone_path_join(tmpdir, "afile");
    CHECK(bone_mkdirs(dir, &e) == 0, "mkdirs: %s", e.msg);
    char *target = bone_path_join(dir, "out.bin");
    CHECK(bone_afile_open(&a, target, &e) == 0, "afile_open: %s", e.msg);
    if (a.tmp) {
        const char *base = strrchr(a.tmp, '/') + 1;
        CHECK(!strncmp(a.tmp, dir, strlen(dir)) && bone_temp_name_parse(base, &pid, &bl) && pid == (long)getpid() &&
                     bl == strlen("out.bin"), "temporary name %s", a.tmp);
        struct stat st;
        CHECK(lstat(a.tmp, &st) == 0 && S_ISREG(st.st_mode), "temporary is a new regular file");
        /* a second writer of the same target gets its own temporary */
        bone_afile b;
        CHECK(bone_afile_open(&b, target, &e) == 0 && strcmp(a.tmp, b.tmp), "two writers, two temporaries");
        bone_afile_abort(&b);
        static unsigned char big[3u << 20]; /* larger than the writer's buffer: written straight through */
        for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7);
        CHECK(bone_afile_write(&a, "head", 4, &e) == 0 && bone_afile_write(&a, big, sizeof big, &e) == 0 &&
                     bone_afile_write(&a, "tail", 4, &e) == 0 && bone_afile_commit(&a, &e) == 0, "write+commit: %s", e.msg);
        char *buf = NULL;
        size_t n = 0;
        CHECK(bone_read_file(target, &buf, &n, &e) == 0 && n == sizeof big + 8 && !memcmp(buf, "head", 4) &&
                     !memcmp(buf + 4, big, sizeof big) && !memcmp(buf + 4 + sizeof big, "tail", 4), "written bytes");
        free(buf);
        CHECK(count_entries(dir, ".tmp.") == 0, "no temporary left after commit");
    }

    /* stale temporaries: a dead writer's go, a live writer's and other files stay */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0); /* now a pid that no longer runs */
    char name[128];
    snprintf(name, sizeof name, "step-00000003.safetensors.tmp.%ld.0123456789abcdef", (long)child);
    touch(dir, name);
    snprintf(name, sizeof name, "out.bin.tmp.%ld", (long)child);
    touch(dir, name);
    snprintf(name, sizeof name, "step-00000005.safetensors.tmp.%ld.0123456789abcdef", (long)getpid());
    touch(dir, name);
    touch(dir, "notes.tmp.txt");
    CHECK(bone_remove_stale_temps(dir, "other.bin") == 0 && count_entries(dir, ".tmp.") == 4,
             "only the named target's temporaries are considered");
    CHECK(bone_remove_stale_temps(dir, NULL) == 2, "two stale temporaries removed");
    CHECK(count_entries(dir, ".tmp.") == 2 && count_entries(dir, "notes.tmp.txt") == 1 &&
                 count_entries(dir, name) == 1, "live temporary and other files kept");
    /* opening a writer removes its own target's stale temporaries */
    snprintf(name, sizeof name, "out.bin.tmp.%ld.fedcba9876543210", (long)child);
    touch(dir, name);
    CHECK(bone_write_file_atomic(target, "x", 1, &e) == 0 && count_entries(dir, name) == 0,
             "writer removed its target's stale temporary");

    /* reads refuse what is not a regular file, by name */
    char *buf = NULL;
    CHECK(bone_read_file(dir, &buf, NULL, &e) != 0 && strstr(e.msg, "is a directory"), "read a dir: %s", e.msg);
    char *fifo = bone_path_join(dir, "fifo");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(bone_read_regular_file(fifo, &buf, NULL, &e) != 0 && strstr(e.msg, "not a regular file (a FIFO or pipe)"),
             "read a FIFO as a regular file (must not block): %s", e.msg);
    size_t n = 99;
    CHECK(bone_read_file(fifo, &buf, &n, &e) == 0 && n == 0, "a FIFO nobody writes to reads as empty: %s", e.msg);
    if (n == 0) free(buf);
    /* a pipe (what --data /dev/stdin is) is read to its end */
    int fds[2];
    if (pipe(fds) == 0) {
        CHECK(write(fds[1], "{\"a\": 1}\n", 9) == 9, "pipe write");
        close(fds[1]);
        char fdp[64];
        snprintf(fdp, sizeof fdp, "/dev/fd/%d", fds[0]);
        CHECK(bone_read_file(fdp, &buf, &n, &e) == 0 && n == 9 && !strcmp(buf, "{\"a\": 1}\n"), "pipe read: %s",
                 e.msg);
        if (n == 9) free(buf);
        close(fds[0]);
    }
    CHECK(bone_read_file("/dev/zero", &buf, NULL, &e) != 0 && strstr(e.msg, "character device"),
             "read /dev/zero: %s", e.msg);
    bone_st_set s;
    bone_st_init(&s);
    CHECK(bone_st_open_file(&s, fifo, &e) != 0 && strstr(e.msg, "FIFO"), "safetensors FIFO: %s", e.msg);
    bone_st_close(&s);
    free(fifo);
    free(target);
    free(dir);
}

/* B18: the name table and the sorted duplicate check at a size the old quadratic code took
 * minutes on; also that a failed open leaves the table consistent */
static void test_many_tensors(void) {
    const int64_t N = 200000;
    size_t cap = (size_t)N * 64 + 64, len = 0;
    char *h = xmalloc(cap);
    len += (size_t)snprintf(h + len, cap - len, "{");
    for (int64_t i = 0; i < N; i++)
        len += (size_t)snprintf(h + len, cap - len, "%s\"t%07lld\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                                i ? "," : "", (long long)i);
    len += (size_t)snprintf(h + len, cap - len, "}");
    bone_st_set s;
    bone_st_init(&s);
    bone_err e;
    CHECK(bone_st_parse(&s, "many", (const uint8_t *)"", 0, 0, &e) != 0, "empty buffer refused");
    uint8_t *img = xmalloc(len + 8);
    for (int i = 0; i < 8; i++) img[i] = (uint8_t)((uint64_t)len >> (8 * i));
    memcpy(img + 8, h, len);
    CHECK(bone_st_parse(&s, "many", img, len + 8, 0, &e) == 0 && s.n == N, "200,000 tensors: %s", e.msg);
    int found = 0;
    char name[32];
    for (int64_t i = 0; i < N; i += 997) {
        snprintf(name, sizeof name, "t%07lld", (long long)i);
        const bone_st_tensor *t = bone_st_find(&s, name);
        found += t && !strcmp(t->name, name);
    }
    CHECK(found == (int)((N + 996) / 997), "lookups by name: %d found", found);
    CHECK(!bone_st_find(&s, "t9999999") && !bone_st_find(&s, ""), "absent names not found");
    /* a second "file" with a name already present fails and leaves the first file's tensors */
    const char *dup = "{\"zz\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                      "\"t0000005\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    uint8_t img2[256];
    size_t l2 = strlen(dup);
    for (int i = 0; i < 8; i++) img2[i] = (uint8_t)((uint64_t)l2 >> (8 * i));
    memcpy(img2 + 8, dup, l2);
    CHECK(bone_st_parse(&s, "second", img2, l2 + 8, 1, &e) != 0 && strstr(e.msg, "\"t0000005\" appears twice"),
             "duplicate across files: %s", e.msg);
    CHECK(s.n == N && !bone_st_find(&s, "zz") && bone_st_find(&s, "t0000005"), "set unchanged after the failure");
    bone_st_close(&s);
    free(img);
    /* the same keys twice in one object: the duplicate is named */
    h[len - 1] = 0;
    char *h2 = xmalloc(len + 128);
    snprintf(h2, len + 128, "%s,\"t0000000\":1}", h);
    bone_err je;
    cJSON *o = bone_json_parse(h2, strlen(h2), "dups", &je);
    CHECK(o && bone_json_check_dups(o, "dups", &e) != 0 && strstr(e.msg, "duplicate key \"t0000000\""),
             "duplicate among 200,001 keys: %s", e.msg);
    cJSON_Delete(o);
    free(h2);
    free(h);
}

static void test_json_floats(void) {
    bone_err e = {{0}};
    cJSON *o = cJSON_CreateObject();
    CHECK(bone_json_add_float(o, "a", 1e-6, "x", &e) == 0 && bone_json_add_float(o, "b", 500000.0, "x", &e) == 0,
             "finite floats added");
    CHECK(bone_json_add_float(o, "c", INFINITY, "x.json", &e) != 0 && strstr(e.msg, "x.json: \"c\" is inf"),
             "inf refused: %s", e.msg);
    CHECK(bone_json_add_float(o, "d", NAN, "x.json", &e) != 0, "nan refused");
    char *txt = bone_json_print(o);
    CHECK(!strcmp(txt, "{\"a\":1e-06,\"b\":5e+05}"), "float text: %s", txt);
    free(txt);
    cJSON_Delete(o);
    /* a config that would print a non-finite value is not written */
    const char *ok = "{" BASE_CFG "}";
    bone_config c;
    CHECK(bone_config_parse(ok, strlen(ok), "ok.json", &c, &e) == 0, "base config: %s", e.msg);
    c.rope_theta = INFINITY;
    char *p = bone_path_join(tmpdir, "inf-config.json");
    CHECK(bone_config_save(&c, p, &e) != 0 && strstr(e.msg, "rope_theta") && !bone_path_present(p),
             "config with inf rope_theta not saved: %s", e.msg);
    free(p);
}

static void config_error(const char *json, const char *needle) {
    bone_config c;
    bone_err e = {{0}};
    int rc = bone_config_parse(json, strlen(json), "cfg.json", &c, &e);
    CHECK(rc != 0, "config accepted although it should fail (%s): %s", needle, json);
    if (rc) {
        CHECK(strstr(e.msg, "cfg.json") && strstr(e.msg, needle), "config message lacks \"%s\": %s", needle, e.msg);
        printf("ok   config -> %s\n", e.msg);
    }
}

#define BASE "\"model_type\":\"llama\",\"vocab_size\":32,\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":1,\"num_attention_heads\":2"

static void test_config(void) {
    bone_config c;
    bone_err e;
    const char *ok = "{" BASE ",\"num_key_value_heads\":1,\"rope_scaling\":{\"type\":\"llama3\",\"factor\":8.0,"
                     "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192},"
                     "\"eos_token_id\":[30,31]}";
    CHECK(bone_config_parse(ok, strlen(ok), "ok.json", &c, &e) == 0, "valid config: %s", e.msg);
    CHECK(c.head_dim == 8 && c.n_kv == 1 && c.rope_type == BONE_ROPE_LLAMA3 && c.eos == 30, "config values");
    const char *v5 = "{" BASE ",\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":500000.0}}";
    CHECK(bone_config_parse(v5, strlen(v5), "v5.json", &c, &e) == 0 && c.rope_theta == 500000.0,
             "v5 rope_parameters");
    const char *qw = "{\"model_type\":\"qwen2\",\"vocab_size\":32,\"hidden_size\":16,\"intermediate_size\":24,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"sliding_window\":4096,\"use_sliding_window\":false}";
    CHECK(bone_config_parse(qw, strlen(qw), "qw.json", &c, &e) == 0 && c.qkv_bias && !c.o_bias,
             "qwen2 biases implied, unused window accepted: %s", e.msg);
    config_error("{\"model_type\":\"gpt2\"}", "model_type \"gpt2\"");
    config_error("{\"model_type\":\"llama\",\"hidden_size\":16}", "\"vocab_size\"");
    config_error("{" BASE ",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}}", "yarn");
    config_error("{\"model_type\":\"mistral\",\"vocab_size\":32,\"hidden_size\":16,\"intermediate_size\":24,"
                 "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"sliding_window\":4096,"
                 "\"max_position_embeddings\":32768}",
                 "sliding_window");
    config_error("{" BASE ",\"num_key_value_heads\":3}", "num_key_value_heads");
    config_error("{" BASE ",\"hidden_act\":\"gelu\"}", "hidden_act");
    config_error("{" BASE ",\"architectures\":[\"LlamaForSequenceClassification\"]}", "architectures");
    config_error("[1,2,3]", "JSON object");
    config_error("{\"model_type\":\"llama\",\"vocab_size\":-4,\"hidden_size\":16}", "\"vocab_size\" must be a positive");
    config_error("{\"model_type\":\"llama\",\"vocab_size\":4,\"hidden_size\":1.5}", "\"hidden_size\" must be an integer");
    config_error("{" BASE ",\"vocab_size\":4}", "duplicate key");
    config_error("{\"model_type\":\"ll\xc3\x28\"}", "UTF-8");
    config_error("{" BASE ",\"rope_theta\":1e999}", "\"rope_theta\" must be a finite number > 0, got inf");
    config_error("{" BASE ",\"rope_parameters\":{\"rope_theta\":1e999}}", "\"rope_theta\" must be a finite");
    config_error("{" BASE ",\"rms_norm_eps\":-1e999}", "\"rms_norm_eps\" must be a finite number > 0, got -inf");
    config_error("{" BASE ",\"initializer_range\":0}", "\"initializer_range\" must be a finite number > 0, got 0");
    config_error("{" BASE ",\"rope_scaling\":{\"type\":\"linear\",\"factor\":1e999}}", "factor must be a finite");
    config_error("{" BASE ",\"pad_token_id\":32}", "\"pad_token_id\" = 32 is outside the vocabulary [0, 32)");
    config_error("{" BASE ",\"pad_token_id\":-2}", "\"pad_token_id\" = -2 is outside");
    config_error("{" BASE ",\"eos_token_id\":[1,\"x\"]}", "\"eos_token_id\" must be an integer or a list");
    config_error("{" BASE ",\"dtype\":\"int8\"}", "dtype \"int8\" is not supported");
    config_error("{" BASE ",\"torch_dtype\":16}", "\"torch_dtype\" must be a string");
    {
        char deep[6000];
        memset(deep, '{', sizeof deep);
        memcpy(deep, "{\"a\":", 5);
        for (int i = 5; i + 4 < (int)sizeof deep; i += 5) memcpy(deep + i, "{\"a\":", 5);
        deep[sizeof deep - 1] = 0;
        config_error(deep, "nested deeper than 1000 levels");
    }
    const char *pad = "{" BASE ",\"pad_token_id\":-1,\"torch_dtype\":\"float32\",\"bos_token_id\":null}";
    CHECK(bone_config_parse(pad, strlen(pad), "pad.json", &c, &e) == 0 && c.pad == -1 && c.bos == -1 &&
                 c.dtype == BONE_F32, "pad_token_id -1 means none: %s", e.msg);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bone-test-io-%ld", (long)getpid());
    bone_err e;
    bone_mkdirs(tmpdir, &e);
    test_hostile();
    test_roundtrip();
    test_sharded();
    test_config();
    test_fs();
    test_many_tensors();
    test_json_floats();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    return tu_finish("test_io");
}
