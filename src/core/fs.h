/* fs.h — files written so that nothing is lost: temporary file, fsync, rename, fsync dir.
 * Also whole-file reads and small path helpers. */
#ifndef BONE_CORE_FS_H
#define BONE_CORE_FS_H
#include <stddef.h>
#include <stdio.h>
#include "core/err.h"

/* An atomic writer: bytes go to "<path>.tmp.<pid>"; commit fsyncs, renames over path and
 * fsyncs the directory; abort removes the temporary. */
typedef struct bone_afile {
    FILE *f;
    char *path;
    char *tmp;
    int failed; /* a write failed (e.g. ENOSPC); commit will refuse */
} bone_afile;

int bone_afile_open(bone_afile *a, const char *path, bone_err *e);
int bone_afile_write(bone_afile *a, const void *p, size_t n, bone_err *e);
int bone_afile_commit(bone_afile *a, bone_err *e); /* closes; on failure removes tmp */
void bone_afile_abort(bone_afile *a);

/* Writes a whole buffer atomically. */
int bone_write_file_atomic(const char *path, const void *p, size_t n, bone_err *e);
/* Reads a whole file (NUL-terminated for convenience; *n excludes the NUL). */
int bone_read_file(const char *path, char **out, size_t *n, bone_err *e);
/* mkdir -p */
int bone_mkdirs(const char *path, bone_err *e);
int bone_file_exists(const char *path);
int bone_is_dir(const char *path);
/* Joins a and b with '/'; returns a new string. */
char *bone_path_join(const char *a, const char *b);
/* Copies a file atomically (used for tokenizer files next to merged models). */
int bone_copy_file(const char *src, const char *dst, bone_err *e);

#endif
