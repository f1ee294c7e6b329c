/* batch.h — examples → a right-padded (B, T) batch with shifted targets. Padding uses
 * id 0 and target -100 and cannot change the loss: attention is causal and per-sequence
 * lengths are honoured. */
#ifndef BONE_DATA_BATCH_H
#define BONE_DATA_BATCH_H
#include "data/dataset.h"
#include "model/model.h"

/* Fills b (allocating) from ex[0..n). Reuses b's buffers when large enough. */
void bone_batch_build(bone_batch *b, bone_example *const *ex, int64_t n);
void bone_batch_free(bone_batch *b);
/* Tokens with a target (the loss count) in the batch. */
int64_t bone_batch_label_count(const bone_batch *b);

#endif
