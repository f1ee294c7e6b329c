/* rwkv6.h — RWKV-6 "Finch" (x060) behind the architecture seam (arch.h, FORMATS.md §6): the
 * family table, its config.json parser/writer, and the pieces the tests call directly. */
#ifndef BONE_MODEL_RWKV6_H
#define BONE_MODEL_RWKV6_H
#include <stdint.h>
#include "model/arch.h"
#include "model/config.h"

/* config.json parsing and writing are in config.c (parse_rwkv6, save_rwkv6) */
extern const bone_arch_i bone_rwkv6_i;

/* The per-layer small tensors (fp32 copies, trainable with --train-extra or full), in the order
 * of rwkv6_vec_names. Shapes follow from the config (rwkv6.c vec_shape). */
enum {
    RW_LN1_W, RW_LN1_B, RW_LN2_W, RW_LN2_B,
    RW_MAA_X, RW_MAA_W, RW_MAA_K, RW_MAA_V, RW_MAA_R, RW_MAA_G,
    RW_MAA_W1, RW_MAA_W2, RW_DECAY, RW_DECAY_W1, RW_DECAY_W2, RW_FAAAA,
    RW_LNX_W, RW_LNX_B, RW_FMAA_K, RW_FMAA_R,
    RW_NVEC
};
/* the 8 block linears, in target order */
enum { RW_R, RW_K, RW_V, RW_G, RW_O, RW_FK, RW_FR, RW_FV, RW_NLIN };

#endif
