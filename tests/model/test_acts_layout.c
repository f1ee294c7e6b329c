/* test_acts_layout.c — bone_acts_floats (the memory plan's activation size) equals the floats
 * the step's buffers take in each layout, counted here buffer by buffer from the list in
 * model/step.c's layout comment (review 13.4: in the recompute layout the formula counted N·H
 * floats more than the carving took, and a one-sided assert hid it). The exact carving check is
 * BONE_ASSERT(used == total) in acts_ensure, which every step runs (tests/model/test_recompute). */
#include <stdio.h>
#include "model/model.h"
#include "testutil.h"

int main(int argc, char **argv) {
    bone_config c;
    bone_err e;
    CHECK(bone_config_load(argc > 1 ? argv[1] : "configs/tiny-llama.json", &c, &e) == 0, "%s", e.msg);
    const int64_t B = 4, T = 64, N = B * T, H = c.hidden, F = c.inter, L = c.n_layers;
    const int64_t qd = c.n_heads * c.head_dim, kd = c.n_kv * c.head_dim;
    /* one layer: x, rstd1, q, k, v, att, lse, xm, rstd2, g, u */
    const int64_t layer = N * H + N + N * qd + 2 * N * kd + N * qd + B * c.n_heads * T + N * H + N + 2 * N * F;
    const int64_t tail = 2 * N * H + N + N * H + N * F;         /* xf, xnf, rstdf, xn, hm */
    const int64_t back = 2 * N * H + 2 * N * qd + 2 * N * kd + 3 * N * F; /* dx, dxn, dq, datt, dk, dv, dg, du, dhm */
    const int64_t want[3] = {layer + tail + 64, L * layer + tail + back + 64, layer + (L - 1) * N * H + tail + back + 64};
    for (int layout = 0; layout < 3; layout++) {
        size_t got = bone_acts_floats(&c, B, T, layout, 0);
        CHECK((int64_t)got == want[layout], "layout %d: bone_acts_floats %zu, the buffers take %lld", layout, got,
                 (long long)want[layout]);
    }
    /* a loss chunk larger than the lent block (xn .. dhm) grows the buffer by the difference */
    const int64_t lent = N * H + N * F + 2 * N * qd + 2 * N * kd + 3 * N * F;
    CHECK((int64_t)bone_acts_floats(&c, B, T, 1, (size_t)(lent + 1000)) == want[1] + 1000, "xent padding");
    CHECK(bone_acts_floats(&c, B, T, 1, (size_t)lent) == (size_t)want[1], "xent chunk that fits");
    printf("activation sizes agree with the buffers in all three layouts\n");
    return tu_failures ? 1 : 0;
}
