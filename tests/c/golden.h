/* golden.h — reads tests/fixtures/golden-layers.bin (format in tools/reference.py, write_golden). */
#ifndef MINGRU_TEST_GOLDEN_H
#define MINGRU_TEST_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[64];
    int cell, dim, dim_inner, batch, seq_len, has_prev, has_out;
    double expansion;
    float *w_in, *w_out, *x, *prev, *output, *hidden; /* w_out and prev may be NULL */
} golden_case;

typedef struct {
    const unsigned char *p, *end;
} golden_reader;

static int golden_bytes(golden_reader *r, void *dst, size_t n) {
    if ((size_t)(r->end - r->p) < n) return 0;
    memcpy(dst, r->p, n);
    r->p += n;
    return 1;
}

static float *golden_floats(golden_reader *r, size_t n) {
    float *f = malloc(n * sizeof(float) + 1);
    if (!f || !golden_bytes(r, f, n * sizeof(float))) {
        free(f);
        return NULL;
    }
    return f;
}

/* Loads every case; returns the count, or -1 on a missing or malformed file. */
static int golden_load(const char *path, golden_case **out) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    static unsigned char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    golden_reader r = {buf, buf + len};
    char magic[8];
    unsigned n;
    if (!golden_bytes(&r, magic, 8) || memcmp(magic, "MGGOLD01", 8) || !golden_bytes(&r, &n, 4) || n > 1000) return -1;
    golden_case *cs = calloc(n, sizeof *cs);
    for (unsigned i = 0; i < n; i++) {
        golden_case *c = &cs[i];
        unsigned name_len, u[8];
        if (!golden_bytes(&r, &name_len, 4) || name_len >= sizeof c->name || !golden_bytes(&r, c->name, name_len))
            return -1;
        if (!golden_bytes(&r, u, 8) || !golden_bytes(&r, &c->expansion, 8) || !golden_bytes(&r, u + 2, 20)) return -1;
        c->cell = (int)u[0], c->dim = (int)u[1], c->dim_inner = (int)u[2], c->batch = (int)u[3];
        c->seq_len = (int)u[4], c->has_prev = (int)u[5], c->has_out = (int)u[6];
        size_t D = c->dim, Di = c->dim_inner, B = c->batch, T = c->seq_len, G = c->cell ? 3 : 2;
        c->w_in = golden_floats(&r, G * Di * D);
        c->w_out = c->has_out ? golden_floats(&r, D * Di) : NULL;
        c->x = golden_floats(&r, B * T * D);
        c->prev = c->has_prev ? golden_floats(&r, B * Di) : NULL;
        c->output = golden_floats(&r, B * T * D);
        c->hidden = golden_floats(&r, B * Di);
        if (!c->w_in || (c->has_out && !c->w_out) || !c->x || (c->has_prev && !c->prev) || !c->output || !c->hidden)
            return -1;
    }
    *out = cs;
    return (int)n;
}

static void golden_free(golden_case *cs, int n) {
    for (int i = 0; i < n; i++) {
        free(cs[i].w_in), free(cs[i].w_out), free(cs[i].x), free(cs[i].prev), free(cs[i].output), free(cs[i].hidden);
    }
    free(cs);
}

#endif
