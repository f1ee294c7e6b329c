/* step.h — options of the forward/backward step (step.c) beyond bone_model_step's arguments. */
#ifndef BONE_MODEL_STEP_H
#define BONE_MODEL_STEP_H
#include "model/model.h"

/* Activation recomputation for training steps: keep only each layer's input and run the
 * layer's forward again just before its backward (less memory, one more forward of the
 * layers). Gradients are bit-identical to the default. Off by default. */
void bone_acts_set_recompute(bone_acts *a, int on);

#endif
