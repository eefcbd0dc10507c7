/* libFuzzer harness: the entry points with hostile arguments. The input picks a layer's cell, sizes and
 * options, call shapes and values (including NaN and infinity), and token ids for a small model; every
 * call must return a status, never crash or read out of bounds.
 *   run: build/fuzz/fuzz-api -max_total_time=60 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mingru.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static unsigned take(input *in, unsigned mod) {
    if (!in->n || !mod) return 0;
    unsigned v = *in->p++;
    in->n--;
    return v % mod;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input in = {data, size};
    mg_layer_params p = mg_layer_default_params();
    p.cell = (int)take(&in, 3);                              /* 2 is invalid */
    p.dim = (int)take(&in, 40) - 2;                          /* may be <= 0 */
    static const double expansions[] = {1.0, 1.5, 2.0, 0.5, 0.01, -1.0, 1e9, 1.1};
    p.expansion_factor = expansions[take(&in, 8)];
    p.kernel = (int)take(&in, 4);                            /* 3 is invalid */
    p.scan_chunks = (int)take(&in, 6) - 1;                   /* -1 is invalid */
    mg_layer *l = NULL;
    if (mg_layer_create(&p, NULL, NULL, &l) == MG_OK) {
        int dim, di;
        mg_layer_shape(l, &dim, &di, NULL, NULL);
        mg_layer_init_uniform(l, size);
        int B = (int)take(&in, 4), T = (int)take(&in, 20);    /* may be 0 */
        size_t nx = (size_t)(B > 0 ? B : 1) * (T > 0 ? T : 1) * dim, nh = (size_t)(B > 0 ? B : 1) * di;
        float *x = calloc(nx, sizeof(float)), *y = calloc(nx, sizeof(float)), *h = calloc(nh, sizeof(float));
        for (size_t i = 0; i < nx && in.n; i++) {
            unsigned v = take(&in, 256);
            x[i] = v == 255 ? NAN : v == 254 ? INFINITY : ((float)v - 127.0f) / 16.0f;
        }
        int with_h = (int)take(&in, 2);
        mg_layer_forward(l, x, B, T, with_h ? h : NULL, y, h);
        mg_layer_step(l, x, B, with_h ? h : NULL, y, h);
        free(x), free(y), free(h);
        mg_layer_free(l);
    }
    return 0;
}
