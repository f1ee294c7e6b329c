/* json.h — a thin layer over cJSON: parse files strictly (UTF-8 checked, one value,
 * nothing after it) and read typed fields with messages that name the file and field. */
#ifndef BONE_IO_JSON_H
#define BONE_IO_JSON_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "core/err.h"
#include "core/fs.h"

/* Parses text of length n. `what` names the source in messages (a path, or "path:line"). */
cJSON *bone_json_parse(const char *text, size_t n, const char *what, bone_err *e);
/* Reads and parses a file; requires a JSON object at the top. */
cJSON *bone_json_load_object(const char *path, bone_err *e);

/* Field getters. `what` names the source for messages. Absent → error unless a *_opt form. */
int bone_json_int(const cJSON *obj, const char *key, const char *what, int64_t *out, bone_err *e);
int bone_json_int_opt(const cJSON *obj, const char *key, const char *what, int64_t dflt, int64_t *out, bone_err *e);
int bone_json_num(const cJSON *obj, const char *key, const char *what, double *out, bone_err *e);
int bone_json_num_opt(const cJSON *obj, const char *key, const char *what, double dflt, double *out, bone_err *e);
int bone_json_bool_opt(const cJSON *obj, const char *key, const char *what, int dflt, int *out, bone_err *e);
/* Returns the string (owned by obj) or NULL with an error. */
const char *bone_json_str(const cJSON *obj, const char *key, const char *what, bone_err *e);
/* Is v an integral number that fits exactly in int64 (|v| < 2^53)? */
int bone_json_is_int(const cJSON *v, int64_t *out);
/* Case-sensitive lookup; also rejects duplicate keys via bone_json_check_dups. */
int bone_json_check_dups(const cJSON *obj, const char *what, bone_err *e);
/* Writes the object's keys as "a", "b", ... into buf (or "none"): for "fields present" messages. */
void bone_json_list_fields(const cJSON *obj, char *buf, size_t cap);
/* Adds a float that stays a float in the text (always a '.' or 'e': transformers v5 checks
 * types), in its shortest round-trip form. A non-finite value has no JSON form: refused, naming
 * `what` and the key, and nothing is added. */
int bone_json_add_float(cJSON *obj, const char *key, double v, const char *what, bone_err *e);
/* Prints compact JSON; the caller frees with free(). */
char *bone_json_print(const cJSON *v);
/* One JSONL row: o printed unformatted, then a newline, into an atomic file; o is consumed. */
int bone_afile_write_json(bone_afile *af, cJSON *o, bone_err *e);

#endif
