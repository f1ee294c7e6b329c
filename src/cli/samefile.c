/* samefile.c — see samefile.h. */
#include "cli/samefile.h"
#include <sys/stat.h>

int bone_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) || stat(b, &sb)) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
