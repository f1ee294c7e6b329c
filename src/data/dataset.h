/* dataset.h — training/eval examples in memory, and loading them from files.
 *
 * An example is a token sequence with HF causal-LM labels: labels[t] is the target that
 * logits at position t-1 predict (the model shifts), -100 = ignored. Loaders:
 *   - pre-tokenized JSONL {"input_ids":[...], "labels":[...]} (dataset.c);
 *   - instruction formats (GSM8K, MetaMathQA, Alpaca, chat) rendered through a template
 *     and a tokenizer (instruct.c). */
#ifndef BONE_DATA_DATASET_H
#define BONE_DATA_DATASET_H
#include <stdint.h>
#include "core/err.h"

#define BONE_IGNORE (-100)

typedef struct bone_example {
    int32_t *ids;    /* (n) token ids */
    int32_t *labels; /* (n) labels, BONE_IGNORE where no loss */
    int64_t n;
    int64_t line;    /* where it came from: > 0 a JSONL line, < 0 element -line of a JSON array, 0 unknown */
} bone_example;

typedef struct bone_dataset {
    bone_example *ex;
    int64_t n, cap;
} bone_dataset;

typedef enum { BONE_MAXLEN_TRUNCATE, BONE_MAXLEN_DROP, BONE_MAXLEN_ERROR } bone_maxlen_policy;

typedef struct bone_data_opts {
    const char *path;         /* JSONL file, or a JSON array file */
    const char *format;       /* NULL/"auto", "tokens", "gsm8k", "metamath", "alpaca", "chat" */
    const char *template_;    /* NULL (default for the format), "alpaca", "chatml", "llama3", "llama2", "raw", or a file */
    const char *tokenizer;    /* tokenizer path (model dir usually); needed for text formats */
    int64_t max_len;          /* 0 = unlimited */
    bone_maxlen_policy policy;
    int keep_calc;            /* keep GSM8K <<...>> annotations */
    int64_t vocab_size;       /* >0: ids must be < vocab_size */
} bone_data_opts;

void bone_dataset_init(bone_dataset *d);
void bone_dataset_free(bone_dataset *d);
/* Appends a copy of ids/labels (labels may be NULL = copy of ids). */
void bone_dataset_push(bone_dataset *d, const int32_t *ids, const int32_t *labels, int64_t n);
/* Loads any supported format (dispatching on opts->format / detection). */
int bone_dataset_load(const bone_data_opts *opts, bone_dataset *out, bone_err *e);
/* Pre-tokenized JSONL only. */
int bone_dataset_load_tokens(const bone_data_opts *opts, bone_dataset *out, bone_err *e);
/* Text formats through a template and tokenizer (instruct.c). */
int bone_dataset_load_text(const bone_data_opts *opts, bone_dataset *out, bone_err *e);
/* The same on the file's text already read (text[n] == 0; not freed; opts->path names it). */
int bone_dataset_load_text_buf(const bone_data_opts *opts, const char *text, size_t n, bone_dataset *out, bone_err *e);
/* The pre-tokenized loader on text already read (as bone_dataset_load_text_buf). */
int bone_dataset_load_tokens_buf(const bone_data_opts *opts, const char *text, size_t n, bone_dataset *out,
                                 bone_err *e);
/* Reads a data file whole, dropping a UTF-8 byte order mark at its start. */
int bone_data_read(const char *path, char **text, size_t *n, bone_err *e);
/* Parses one JSONL line [s, s+n) of path; errors say path:LINE:COLUMN. */
struct cJSON *bone_jsonl_parse(const char *s, size_t n, const char *path, int64_t line, bone_err *e);
/* Walks JSONL text: returns 1 with [*a, *b) the next non-blank line (surrounding spaces, tabs
 * and CR trimmed) and *line its 1-based number; 0 at the end. *pos starts at 0. */
int bone_jsonl_next(const char *text, size_t n, size_t *pos, int64_t *line, size_t *a, size_t *b);
/* Checks every example before training (or scoring) starts, so that a bad one is named by
 * file and line instead of failing when its batch runs: at most max_pos tokens (> 0), ids
 * and labels inside [0, vocab) (labels may be -100). `tokenizer` (may be NULL) is the
 * tokenizer path the data was rendered with; an id outside the vocabulary then says how
 * many tokens that tokenizer has. 0 if all good. (validate.c) */
int bone_dataset_validate(const bone_dataset *d, const char *path, int64_t max_pos, int64_t vocab,
                          const char *tokenizer, bone_err *e);
/* Number of label tokens that count for the loss (labels shifted: t >= 1, != -100). */
int64_t bone_example_label_count(const bone_example *x);

#endif
