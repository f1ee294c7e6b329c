/* template.h — prompt templates for instruction data: the Bone/PiSSA Alpaca prompt (FORMATS.md
 * §7.4), the ChatML, Llama-3, Llama-2, Zephyr and RWKV World (§6.9) chat families rendered natively (§4.10), raw
 * concatenation, and user template files with {placeholders}.
 *
 * Rendering yields text segments, each marked trainable or not; instruct.c tokenizes them and
 * puts the loss on the trainable ones only. */
#ifndef BONE_DATA_TEMPLATE_H
#define BONE_DATA_TEMPLATE_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include "core/err.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    BONE_TMPL_ALPACA,
    BONE_TMPL_CHATML,
    BONE_TMPL_LLAMA3,
    BONE_TMPL_LLAMA2,
    BONE_TMPL_ZEPHYR,
    BONE_TMPL_RWKV,
    BONE_TMPL_RAW,
    BONE_TMPL_FILE,
} bone_tmpl_kind;

typedef struct bone_template {
    bone_tmpl_kind kind;
    char *name;           /* "alpaca", ..., or the file path */
    char *file_text;      /* BONE_TMPL_FILE: the template text */
    char *default_system; /* ChatML: system message inserted when the first message is not one */
    int date_preamble;    /* Llama-3.1+: knowledge-date system block */
} bone_template;

typedef struct bone_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} bone_msg;

/* One example in canonical form: either an instruction (instruction/input/response) or a list
 * of chat messages. obj is the source record (for FILE placeholders); may be NULL. */
typedef struct bone_record {
    const cJSON *obj;
    const char *instruction; /* GSM8K question, MetaMathQA query, Alpaca instruction */
    const char *input;       /* Alpaca input; NULL or "" = none */
    const char *response;    /* answer / response / output */
    const char *target_field;
    const bone_msg *msgs;    /* chat format */
    size_t nmsgs;
} bone_record;

typedef struct bone_segs {
    char **text;
    int *train;
    size_t n, cap;
    int add_special; /* tokenize with the post-processor (BOS) */
    int append_eos;  /* append the tokenizer's eos id (trainable) after the last segment */
} bone_segs;

/* The exact Bone/PiSSA prompts (FORMATS.md §7.4). */
extern const char BONE_ALPACA_PROMPT[];       /* contains one %s: the instruction */
extern const char BONE_ALPACA_PROMPT_INPUT[]; /* %s instruction, %s input */

/* name: alpaca|chatml|llama3|llama2|zephyr|rwkv|raw or a template file; NULL = the default for
 * the data (is_chat: the tokenizer's chat family, else alpaca). tok may be NULL (then the
 * chat defaults are not applied and NULL name with is_chat fails). */
int bone_template_open(const char *name, int is_chat, const bone_tokenizer *tok, bone_template *out, bone_err *e);
void bone_template_close(bone_template *t);
/* Renders r; where names the record in messages ("file:line"). */
int bone_template_render(const bone_template *t, const bone_record *r, const char *where, bone_segs *out,
                         bone_err *e);
/* Concatenation of the segments (malloc'ed). */
char *bone_segs_join(const bone_segs *s);
void bone_segs_free(bone_segs *s);

#endif
