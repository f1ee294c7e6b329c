/* fs.h — files written so that nothing is lost: temporary file, fsync, rename, fsync dir.
 * Also whole-file reads that refuse what is not a regular file (a FIFO would block, a
 * device never ends), removal of a killed writer's stale temporaries, and path helpers. */
#ifndef BONE_CORE_FS_H
#define BONE_CORE_FS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/err.h"

/* An atomic writer: bytes go to a new temporary "<path>.tmp.<pid>.<16 random hex digits>" in
 * the same directory, created with O_CREAT|O_EXCL|O_NOFOLLOW (a file or symlink planted under
 * any name is never followed or reused); commit fsyncs, renames over path and fsyncs the
 * directory; abort removes the temporary. Opening also removes stale temporaries of the same
 * path left by writers that were killed (their pid no longer runs). */
typedef struct bone_afile {
    int fd;           /* -1 when closed */
    char *path;
    char *tmp;        /* NULL when nothing is open */
    unsigned char *buf;
    size_t len, cap;  /* buffered bytes not yet written */
    int failed;       /* a write failed (e.g. ENOSPC); commit will refuse */
} bone_afile;

int bone_afile_open(bone_afile *a, const char *path, bone_err *e);
int bone_afile_write(bone_afile *a, const void *p, size_t n, bone_err *e);
int bone_afile_commit(bone_afile *a, bone_err *e); /* closes; on failure removes tmp */
void bone_afile_abort(bone_afile *a);

/* Is `name` (a directory entry) a temporary of bone_afile: "BASE.tmp.PID" (older bones) or
 * "BASE.tmp.PID.HEX16"? If so, stores the writer's pid and the length of BASE. */
int bone_temp_name_parse(const char *name, long *pid, size_t *base_len);
/* Removes the regular files in dir that are bone_afile temporaries (of target file `base`,
 * or of any file when base is NULL) whose writer process no longer exists: what a run killed
 * during a save leaves. Temporaries of running processes are kept. Best effort; returns the
 * number removed. */
int64_t bone_remove_stale_temps(const char *dir, const char *base);

/* Writes a whole buffer atomically. */
int bone_write_file_atomic(const char *path, const void *p, size_t n, bone_err *e);
/* Opens a regular file for reading without blocking on a FIFO: a directory, FIFO, device or
 * socket is refused by name ("is a directory", "not a regular file (a FIFO)"). Returns the
 * descriptor (caller closes) and its size, or -1 with a message. */
int bone_open_regular(const char *path, uint64_t *size, bone_err *e);
/* bone_open_regular, then the whole file mapped read-only (private): *map is NULL for an empty
 * file (parsers then read ""), else the caller munmaps (*map, *size). */
int bone_map_regular(const char *path, void **map, size_t *size, bone_err *e);
/* Reads a whole file (NUL-terminated for convenience; *n excludes the NUL): a regular file,
 * or a pipe or FIFO (`--data /dev/stdin`, `<(...)`; a FIFO nobody writes to reads as empty
 * instead of blocking), at most BONE_STREAM_MAX bytes of it. A directory, a device (/dev/zero
 * never ends) or a socket is refused by name. */
int bone_read_file(const char *path, char **out, size_t *n, bone_err *e);
/* The same for a regular file only: model, tokenizer and adapter files, where a FIFO or a
 * device is a mistake to report ("not a regular file (a FIFO or pipe)"). */
int bone_read_regular_file(const char *path, char **out, size_t *n, bone_err *e);
#define BONE_STREAM_MAX (4ull << 30)
/* mkdir -p; an empty path is refused. */
int bone_mkdirs(const char *path, bone_err *e);
/* A regular file (following symlinks)? */
int bone_file_exists(const char *path);
/* Is there anything at path: a file of any kind, a dangling symlink or a symlink loop? */
int bone_path_present(const char *path);
int bone_is_dir(const char *path);
/* Joins a and b with '/'; returns a new string. */
char *bone_path_join(const char *a, const char *b);
/* Copies a file atomically (used for tokenizer files next to merged models). */
int bone_copy_file(const char *src, const char *dst, bone_err *e);

/* An atomic directory writer (model directories: bone init, merge and unmerge, a full
 * fine-tune's model/): files go into a new temporary directory "<dir>.tmp.<pid>.<16 hex>"
 * beside dir, each written with bone_afile. Commit fsyncs it, carries over into it the regular
 * files of an existing dir that it lacks — except weight files (model.safetensors, its shards
 * and index), which the new ones replace as a set — and swaps it into place (renameat2
 * RENAME_EXCHANGE where the file system has it, else two renames), fsyncs the parent, and only
 * then removes the old directory. Until commit succeeds an existing dir is left as it was;
 * abort removes the temporary. An existing dir holding anything but regular files (a
 * subdirectory, a symlink) is refused at open: it could not be carried over. Opening also
 * removes temporary directories of dir left by killed writers. */
typedef struct bone_adir {
    char *dir;  /* the target, without trailing slashes */
    char *tmp;  /* where to write; NULL when closed */
} bone_adir;
int bone_adir_open(bone_adir *d, const char *dir, bone_err *e);
int bone_adir_commit(bone_adir *d, bone_err *e); /* closes; on failure removes tmp */
void bone_adir_abort(bone_adir *d);

#endif
