/* inspect_gguf.h — `bone inspect FILE.gguf`: the summary of a GGUF file (cmd_inspect.c prints it). */
#ifndef BONE_CLI_INSPECT_GGUF_H
#define BONE_CLI_INSPECT_GGUF_H
#include <cjson/cJSON.h>
#include "core/err.h"
/* Opens path with the strict GGUF reader and fills o: format, architecture, metadata (arrays
 * summarised by element type and count), per-type totals and the tensor table. */
int inspect_gguf(const char *path, cJSON *o, bone_err *e);
/* Does the regular file at path start with the GGUF magic (whatever its name)? */
int inspect_is_gguf(const char *path);
#endif
