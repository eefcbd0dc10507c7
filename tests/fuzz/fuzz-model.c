/* libFuzzer harness: arbitrary bytes as a .safetensors model file. Whatever the input, mg_model_load must
 * return a status (never crash, leak or read outside the buffer); when a file loads, a short forward, a
 * step, a state round trip and a sampled token must work on it too.
 *   build: cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DMINGRU_FUZZ=ON && cmake --build build/fuzz
 *   run:   build/fuzz/fuzz-model -max_total_time=60 DIR, DIR holding copies of the files of tests/corpus and
 *          the .safetensors of tests/fixtures/lm (scripts/fuzz.mjs does this) */
#include <stdlib.h>
#include <string.h>

#include "mingru.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1); /* exactly size bytes: ASan catches a read past the end */
    memcpy(copy, data, size);
    mg_model *m = NULL;
    if (mg_model_load(copy, size, NULL, &m) == MG_OK) {
        const mg_config *c = mg_model_config(m);
        if ((uint64_t)c->dim * c->depth * c->num_tokens < (1u << 22)) { /* keep each run fast */
            mg_state *s = NULL;
            int32_t tokens[3] = {0, (int32_t)(size % (size_t)c->num_tokens), c->num_tokens - 1};
            if (mg_state_create(m, &s) == MG_OK) {
                mg_lm_forward(m, s, tokens, 3, NULL, 0);
                mg_lm_step(m, s, tokens[1], NULL);
                size_t n = mg_state_save_size(s);
                uint8_t *saved = malloc(n);
                mg_state *r = NULL;
                if (mg_state_save(s, saved, n) == MG_OK && mg_state_load(m, saved, n, &r) == MG_OK) {
                    mg_sampler_params p = mg_sampler_default_params();
                    uint64_t rng = size;
                    int32_t t;
                    mg_lm_generate_next(m, r, &p, &rng, &t);
                }
                mg_state_free(r);
                free(saved);
            }
            mg_state_free(s);
        }
        mg_model_free(m);
    }
    free(copy);
    return 0;
}
