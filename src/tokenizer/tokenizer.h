/* tokenizer.h — text ↔ token ids for the model families bone fine-tunes.
 *
 * Loads, from one path:
 *   - a Hugging Face tokenizer.json (BPE model; normalizers NFC/Prepend/Replace/Sequence;
 *     pre-tokenizers Split/ByteLevel/Metaspace/Sequence; TemplateProcessing/ByteLevel
 *     post-processors; Replace/ByteFallback/Fuse/Strip/ByteLevel/Metaspace decoders),
 *     plus tokenizer_config.json next to it when present (bos/eos/pad, add_bos_token,
 *     chat template family);
 *   - a directory holding tokenizer.json, or GPT-2's vocab.json|encoder.json + merges.txt|vocab.bpe;
 *   - a llama2.c tokenizer.bin (FORMATS.md §3.3/3.4);
 *   - the RWKV World vocabulary rwkv_vocab_v20230424.txt (FORMATS.md §6.9; greedy longest match
 *     over bytes, id 0 = end-of-text), or a directory holding it.
 * Encoding follows HF tokenizers (FORMATS.md §4.2): added tokens are split out of the raw
 * text first, then normalizer → pre-tokenizer → BPE per word → post-processor.
 *
 * A tokenizer keeps a word cache, so one object must not be used by two threads at once
 * (load one per thread, or serialise calls). */
#ifndef BONE_TOKENIZER_TOKENIZER_H
#define BONE_TOKENIZER_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

typedef struct bone_tokenizer bone_tokenizer;

/* The World vocabulary's file name, as the HF RWKV repositories and ChatRWKV ship it. */
#define BONE_RWKV_VOCAB_NAME "rwkv_vocab_v20230424.txt"

typedef enum {
    BONE_CHAT_NONE = 0, /* tokenizer_config has no chat template */
    BONE_CHAT_UNKNOWN,  /* it has one, but not of a family bone can render */
    BONE_CHAT_CHATML,   /* <|im_start|>role\n...<|im_end|>\n (Qwen) */
    BONE_CHAT_LLAMA3,   /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    BONE_CHAT_LLAMA2,   /* <s>[INST] <<SYS>>...<</SYS>> ... [/INST] ... </s> */
    BONE_CHAT_ZEPHYR,   /* <|role|>\n...</s>\n (TinyLlama chat) */
    BONE_CHAT_RWKV,     /* User: ...\n\nAssistant: ...\n\n, documents end with id 0 (RWKV World) */
} bone_chat_family;

/* Loads from a tokenizer.json, a directory (tokenizer.json, or GPT-2 vocab + merges), or a
 * llama2.c tokenizer.bin. NULL on error (message in e). */
bone_tokenizer *bone_tokenizer_load(const char *path, bone_err *e);
/* The names of the files that make up a tokenizer in a model directory (all that
 * bone_tokenizer_load reads there, plus HF's special_tokens_map.json and tokenizer.model);
 * NULL-terminated. */
const char *const *bone_tokenizer_files(void);
/* A llama2.c tokenizer.bin; vocab_size <= 0 reads entries up to the end of the file. */
bone_tokenizer *bone_tokenizer_load_llama2c(const char *path, int64_t vocab_size, bone_err *e);
/* An RWKV World vocabulary held in memory (what = the name used in messages: path:line). */
bone_tokenizer *bone_tokenizer_parse_rwkv(const char *what, const char *buf, size_t n, bone_err *e);
void bone_tokenizer_free(bone_tokenizer *t);

/* Encodes n bytes of UTF-8 text (need not be NUL-terminated). add_special applies the
 * post-processor (e.g. BOS), like HF add_special_tokens=True. *ids is malloc'ed and owned
 * by the caller (free()). Fails on invalid UTF-8, naming the byte offset. */
int bone_tokenizer_encode(bone_tokenizer *t, const char *text, size_t n, int add_special,
                          int32_t **ids, size_t *nids, bone_err *e);

/* How many ids the post-processor (add_special) puts before and after the encoded text
 * (e.g. Llama-2: 1 and 0; Llama-2 with add_eos_token: 1 and 1; GPT-2: 0 and 0). */
void bone_tokenizer_special_counts(const bone_tokenizer *t, size_t *nprefix, size_t *nsuffix);

/* Decode flags. */
#define BONE_DECODE_SKIP_SPECIAL 1u /* drop tokens flagged special (HF skip_special_tokens) */
#define BONE_DECODE_CLEANUP 2u      /* transformers clean_up_tokenization_spaces */
/* Decodes ids through the tokenizer's decoder. *out is malloc'ed, NUL-terminated, *len
 * excludes the NUL. Fails on an id outside the vocabulary. */
int bone_tokenizer_decode(const bone_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                          char **out, size_t *len, bone_err *e);

/* Streaming decode of a continuation in the context of earlier ids (a prompt), as Hugging Face's
 * TextStreamer does with decode(prompt + generated): all text handed out by push and flush, in
 * order, equals decode(ctx + ids) without its prefix decode(ctx) (BONE_DECODE_SKIP_SPECIAL), so
 * the continuation keeps the space a SentencePiece decoder strips from a text's first word. Each
 * push decodes only a bounded window (a few ids of context and the ids whose text is not yet
 * complete: partial UTF-8, U+FFFD of an unfinished byte-fallback character), so streaming n ids
 * costs O(n). *text is valid until the next call. ctx is copied. */
typedef struct bone_decode_stream bone_decode_stream;
bone_decode_stream *bone_decode_stream_new(const bone_tokenizer *t, const int32_t *ctx, size_t n);
int bone_decode_stream_push(bone_decode_stream *s, int32_t id, const char **text, size_t *len, bone_err *e);
/* Hands out the text held back (the end of the continuation, complete or not). */
int bone_decode_stream_flush(bone_decode_stream *s, const char **text, size_t *len, bone_err *e);
/* How many ids the last push or flush passed to the decoder (the work a test bounds). */
size_t bone_decode_stream_last_work(const bone_decode_stream *s);
void bone_decode_stream_free(bone_decode_stream *s);

/* The vocabulary string of a token (as stored: byte-level tokens in the mapped alphabet,
 * SentencePiece pieces with ▁), or NULL if id is out of range or unused. */
const char *bone_tokenizer_token_to_piece(const bone_tokenizer *t, int32_t id);
/* The same piece with its length in bytes (an RWKV World token's raw bytes may hold NUL), or
 * NULL as above. */
const char *bone_tokenizer_token_bytes(const bone_tokenizer *t, int32_t id, size_t *len);
/* Whether t is the RWKV World vocabulary (greedy longest match over bytes, tok_rwkv.c). */
int bone_tokenizer_is_rwkv_world(const bone_tokenizer *t);
/* The id of a vocabulary string (model vocab or added token), or -1. */
int32_t bone_tokenizer_piece_to_id(const bone_tokenizer *t, const char *piece);

int64_t bone_tokenizer_vocab_size(const bone_tokenizer *t); /* max id + 1 */
int32_t bone_tokenizer_bos(const bone_tokenizer *t);        /* -1 if none */
int32_t bone_tokenizer_eos(const bone_tokenizer *t);        /* -1 if none */
int32_t bone_tokenizer_pad(const bone_tokenizer *t);        /* -1 if none */
int bone_tokenizer_is_special(const bone_tokenizer *t, int32_t id);
/* Does decode(encode(x)) == x hold for every valid UTF-8 x that contains no added-token text?
 * 1 for byte-level BPE (for NFC text when the normalizer is NFC) and for SentencePiece-style BPE
 * with byte fallback and Prepend/Replace normalizers (for text without U+2581); 0 otherwise
 * (e.g. llama2.c tokenizer.bin, unk tokens). */
int bone_tokenizer_lossless(const bone_tokenizer *t);

bone_chat_family bone_tokenizer_chat_family(const bone_tokenizer *t);
const char *bone_chat_family_name(bone_chat_family f);
/* ChatML's default system message when the template inserts one (Qwen2/2.5), else NULL. */
const char *bone_tokenizer_chat_default_system(const bone_tokenizer *t);
/* Llama-3.1+ templates always emit a system block with a knowledge-date preamble. */
int bone_tokenizer_chat_date_preamble(const bone_tokenizer *t);
/* The eos/bos strings (content of the token), or NULL. */
const char *bone_tokenizer_eos_text(const bone_tokenizer *t);
const char *bone_tokenizer_bos_text(const bone_tokenizer *t);

/* Recognises a chat template text (Jinja source) as one of the families. NULL → NONE. */
bone_chat_family bone_chat_family_detect(const char *jinja);

#endif
