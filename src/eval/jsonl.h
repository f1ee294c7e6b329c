/* jsonl.h — a whole JSON Lines file read into parsed objects, for the eval data sets and
 * sample files (blank lines skipped; every other line must be a JSON object). */
#ifndef BONE_EVAL_JSONL_H
#define BONE_EVAL_JSONL_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "core/err.h"

typedef struct bone_jsonl {
    cJSON **row;   /* (n) objects, owned */
    int64_t *line; /* (n) 1-based line numbers, for messages */
    int64_t n;
} bone_jsonl;

/* Reads up to limit rows (<= 0: all). Errors name path:line. An empty file is an error. */
int bone_jsonl_read(const char *path, int64_t limit, bone_jsonl *j, bone_err *e);
void bone_jsonl_free(bone_jsonl *j);
/* The string field key of row i, or NULL when absent or not a string. */
const char *bone_jsonl_str(const bone_jsonl *j, int64_t i, const char *key);

#endif

/* A sample file (human-eval's format): rows {"task_id", "completion"}. Each task_id is looked up
 * in ids[0..nids) (a data set's ids, may be NULL entries); a row whose task_id is a JSON integer,
 * or a string of digits that is not itself an id, names the data set's row by index. task[i] is
 * the index, completion[i] the text (owned by the result). Unknown ids are errors (path:line). */
typedef struct bone_samples {
    int64_t *task;
    char **completion;
    int64_t n;
} bone_samples;
int bone_samples_read(const char *path, const char *const *ids, int64_t nids, bone_samples *s, bone_err *e);
void bone_samples_free(bone_samples *s);
