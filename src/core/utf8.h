/* utf8.h — strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF). */
#ifndef BONE_CORE_UTF8_H
#define BONE_CORE_UTF8_H
#include <stddef.h>
/* Returns n if valid, else the byte offset of the first invalid sequence. */
size_t bone_utf8_check(const char *s, size_t n);
#endif
