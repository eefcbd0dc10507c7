/* The pool: layers and language models give the same results on 1, 2, 3 and 4 threads (to 1e-5), for
 * long sequences (time chunks) and short ones and steps (split channels and rows), with every job run in
 * parallel, with the pool's default minimum work (small jobs on one thread), and with a minimum these models'
 * jobs straddle while pauses let the workers fall asleep (the jobs that then run on the caller and wake them);
 * a model's forward and step on the calling thread alone (mg_model_set_threads) give the pool's bits.
 * Built without threads (wasm single-thread), mg_set_threads refuses anything but 1 and the test checks that. */
#include <unistd.h>

#include "check.h"
#include "internal.h"

static int pause_us; /* before each step: long enough for the workers to sleep */

/* outputs of a layer forward over T steps and of 3 steps, on the current pool */
static void run_layer(int cell, int T, float *y, float *ys) {
    mg_layer_params p = mg_layer_default_params();
    p.cell = cell, p.dim = 40, p.expansion_factor = 1.5;
    mg_layer *l;
    REQUIRE(mg_layer_create(&p, NULL, NULL, &l) == MG_OK && mg_layer_init_uniform(l, 5) == MG_OK, "%s", mg_last_error());
    float *x = malloc(sizeof(float) * 2 * T * 40), h[2 * 60];
    fill_state = 1;
    fill_uniform(x, (size_t)2 * T * 40, -2, 2);
    CHECK(mg_layer_forward(l, x, 2, T, NULL, y, h) == MG_OK, "%s", mg_last_error());
    for (int t = 0; t < 3; t++) {
        usleep(pause_us);
        CHECK(mg_layer_step(l, x + t * 80, 2, t ? h : NULL, ys + t * 80, h) == MG_OK, "%s", mg_last_error());
    }
    free(x);
    mg_layer_free(l);
}

int main(void) {
    if (mg_set_threads(2) != MG_OK) {
        CHECK(mg_get_threads() == 1, "a build without threads reports %d", mg_get_threads());
        CHECK(mg_set_threads(1) == MG_OK, "threads 1 refused");
        return check_report("test-threads (no threads in this build)");
    }
    CHECK(mg_set_threads(0) == MG_EINVAL && mg_set_threads(MG_MAX_THREADS + 1) == MG_EINVAL, "bad counts accepted");
    size_t size;
    unsigned char *file = read_file("tests/fixtures/lm/gru-d24-l3-conv3.safetensors", &size);
    CHECK(file != NULL, "fixture missing (run from the repository root)");
    if (!file) return check_report("test-threads");
    int lengths[3] = {5, 64, 300};
    /* pass 0: every job on all threads, however small (these models are small); pass 1: the default minimum;
     * pass 2: a minimum of 2 KB, and pauses of 5 ms */
    for (int pass = 0; pass < 3; pass++)
    for (int li = 0; li < 3; li++) {
        int T = lengths[li];
        mg_set_min_parallel_work(pass == 0 ? 0 : pass == 1 ? MG_DEFAULT_MIN_PARALLEL_WORK : 2048);
        pause_us = pass == 2 ? 5000 : 0;
        float *want = NULL, *want_s = NULL, *want_lm = NULL, *want_step = NULL;
        for (int nth = 1; nth <= 4; nth++) {
            CHECK(mg_set_threads(nth) == MG_OK && mg_get_threads() == nth, "set %d threads", nth);
            for (int cell = 0; cell < 2; cell++) {
                float *y = malloc(sizeof(float) * 2 * T * 40), ys[3 * 80];
                run_layer(cell, T, y, ys);
                if (nth == 1 && cell == 0) want = y, memcpy(want_s = malloc(sizeof ys), ys, sizeof ys);
                else if (cell == 0) {
                    CHECK(close_ratio(y, want, (size_t)2 * T * 40, 1e-6, 1e-5) <= 1, "layer T=%d on %d threads", T, nth);
                    CHECK(close_ratio(ys, want_s, 240, 1e-6, 1e-5) <= 1, "layer steps on %d threads", nth);
                    free(y);
                } else free(y);
            }
            mg_model *m;
            mg_state *s;
            CHECK_THEN(return check_report("test-threads"), "REQUIRE",
                       mg_model_load(file, size, NULL, &m) == MG_OK && mg_state_create(m, &s) == MG_OK, "%s", mg_last_error());
            int32_t *tokens = malloc(sizeof(int32_t) * T);
            for (int t = 0; t < T; t++) tokens[t] = (t * 37 + 11) % 256;
            float *logits = malloc(sizeof(float) * T * 256), step[256];
            CHECK(mg_lm_forward(m, s, tokens, T, logits, 1) == MG_OK, "lm forward T=%d on %d threads: %s", T, nth, mg_last_error());
            usleep(pause_us);
            CHECK(mg_lm_step(m, s, 65, step) == MG_OK, "lm step on %d threads: %s", nth, mg_last_error());
            /* the same forward and step on the calling thread alone (mg_model_set_threads 1, 1): the pool's bits,
             * and the pool is itself again after them */
            mg_state *s1;
            float *alone = malloc(sizeof(float) * T * 256), alone_step[256];
            CHECK(mg_model_set_threads(m, 2, 0) == MG_EINVAL && mg_model_set_threads(m, 0, -1) == MG_EINVAL,
                  "threads other than 0 and 1 accepted");
            CHECK(mg_state_create(m, &s1) == MG_OK && mg_model_set_threads(m, 1, 1) == MG_OK &&
                      mg_lm_forward(m, s1, tokens, T, alone, 1) == MG_OK && mg_lm_step(m, s1, 65, alone_step) == MG_OK,
                  "%s", mg_last_error());
            CHECK(memcmp(alone, logits, sizeof(float) * T * 256) == 0, "a forward on the calling thread differs (%d threads)", nth);
            CHECK(memcmp(alone_step, step, sizeof step) == 0, "a step on the calling thread differs from the pool's (%d threads)", nth);
            CHECK(mg_pool_serial(0) == 0, "the passes left every job on one thread");
            mg_model_set_threads(m, 0, 0);
            mg_state_free(s1);
            free(alone);
            if (nth == 1) want_lm = logits, memcpy(want_step = malloc(sizeof step), step, sizeof step);
            else {
                CHECK(close_ratio(logits, want_lm, (size_t)T * 256, 1e-5, 1e-5) <= 1, "lm forward T=%d on %d threads", T, nth);
                CHECK(close_ratio(step, want_step, 256, 1e-5, 1e-5) <= 1, "lm step on %d threads", nth);
                free(logits);
            }
            free(tokens);
            mg_state_free(s);
            mg_model_free(m);
        }
        free(want), free(want_s), free(want_lm), free(want_step);
    }
    mg_set_threads(1);
    free(file);
    return check_report("test-threads");
}
