/* step.h — options of the forward/backward step (step.c) beyond bone_model_step's arguments. */
#ifndef BONE_MODEL_STEP_H
#define BONE_MODEL_STEP_H
#include "model/model.h"

/* Activation recomputation for training steps: keep only each layer's input and run the
 * layer's forward again just before its backward (less memory, one more forward of the
 * layers). Gradients are bit-identical to the default. Off by default. */
void bone_acts_set_recompute(bone_acts *a, int on);

/* For a family with its own step (model/arch.h): whether recomputation was asked for, and a
 * slot for its own activations, owned by a (freed with freefn by bone_acts_free). */
int bone_acts_recompute(const bone_acts *a);
void **bone_acts_ext(bone_acts *a, void (*freefn)(void *));

#endif
