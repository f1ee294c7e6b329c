/* load.c — bone_dataset_load: reads a data file once, detects pre-tokenized or text records,
 * and hands the buffer to dataset.c or instruct.c. Kept apart from both so that they do not
 * import each other (instruct.c builds on dataset.c; this file on the two). */
#include <stdlib.h>
#include <string.h>
#include "data/dataset.h"
#include "io/json.h"

/* Format detection from the parsed first record: pre-tokenized when it is an object with a
 * top-level "input_ids" (a key nested deeper, or the text "input_ids" inside a string, is
 * not one: hostile-use P32). A first line that does not parse goes to whichever loader its
 * text suggests, which then reports the malformed JSON with file:line:column. */
static int first_record_is_tokens(const bone_data_opts *opts, const char *text, size_t n) {
    size_t pos = 0, a, b;
    int64_t line = 0;
    if (!bone_jsonl_next(text, n, &pos, &line, &a, &b) || text[a] != '{') return 0;
    bone_err ig;
    cJSON *o = bone_jsonl_parse(text + a, b - a, opts->path, line, &ig);
    if (!o) {
        for (size_t i = a; i + 11 <= b; i++)
            if (!memcmp(text + i, "\"input_ids\"", 11)) return 1;
        return 0;
    }
    int tok = cJSON_IsObject(o) && cJSON_GetObjectItemCaseSensitive(o, "input_ids");
    cJSON_Delete(o);
    return tok;
}

/* Reads the file once (a pipe or /dev/stdin cannot be read twice: hostile-use B1), detects
 * the format from the buffer, and parses that same buffer. */
int bone_dataset_load(const bone_data_opts *opts, bone_dataset *out, bone_err *e) {
    const char *f = opts->format;
    bone_dataset_init(out);
    if (f && strcmp(f, "auto") && strcmp(f, "tokens")) return bone_dataset_load_text(opts, out, e);
    if (f && !strcmp(f, "tokens")) return bone_dataset_load_tokens(opts, out, e);
    char *text;
    size_t n;
    if (bone_data_read(opts->path, &text, &n, e)) return -1;
    int rc = first_record_is_tokens(opts, text, n) ? bone_dataset_load_tokens_buf(opts, text, n, out, e)
                                                   : bone_dataset_load_text_buf(opts, text, n, out, e);
    free(text);
    return rc;
}
