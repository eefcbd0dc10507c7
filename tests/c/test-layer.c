/* The layers against the PyTorch golden vectors (tools/reference.py), forward against a loop of step,
 * forward with a previous hidden state against forward over the whole sequence, bad arguments, and (in wasm) the
 * activations four at a time against the scalar ones. */
#include "check.h"
#include "golden.h"
#include "internal.h"
#include "model.h"

static mg_layer *make_chunked(int cell, int dim, double expansion, int kernel, int scan_chunks, const float *w_in,
                              const float *w_out) {
    mg_layer_params p = mg_layer_default_params();
    p.cell = cell, p.dim = dim, p.expansion_factor = expansion, p.kernel = kernel, p.scan_chunks = scan_chunks;
    mg_layer *l = NULL;
    int st = mg_layer_create(&p, w_in, w_out, &l);
    CHECK(st == MG_OK, "create: %s", mg_last_error());
    return l;
}

static mg_layer *make(int cell, int dim, double expansion, int kernel, const float *w_in, const float *w_out) {
    return make_chunked(cell, dim, expansion, kernel, 0, w_in, w_out);
}

static void test_golden(void) {
    golden_case *cs;
    int n = golden_load("tests/fixtures/golden-layers.bin", &cs);
    CHECK(n > 0, "cannot read tests/fixtures/golden-layers.bin (run from the repository root)");
    if (n <= 0) return;
    for (int i = 0; i < n * 4; i++) {
        golden_case *c = &cs[i / 4];
        int chunks = 1 + i % 4; /* the three-phase scan in 1, 2, 3 and 4 time chunks */
        mg_layer *l = make_chunked(c->cell, c->dim, c->expansion, MG_KERNEL_AUTO, chunks, c->w_in, c->w_out);
        if (!l) continue;
        int di;
        mg_layer_shape(l, NULL, &di, NULL, NULL);
        CHECK(di == c->dim_inner, "%s: dim_inner %d, PyTorch %d", c->name, di, c->dim_inner);
        size_t ny = (size_t)c->batch * c->seq_len * c->dim, nh = (size_t)c->batch * di;
        float *y = malloc(ny * sizeof(float)), *h = malloc(nh * sizeof(float));
        CHECK(mg_layer_forward(l, c->x, c->batch, c->seq_len, c->prev, y, h) == MG_OK, "%s", mg_last_error());
        CHECK(close_ratio(y, c->output, ny, 1e-4, 1e-4) <= 1, "%s (%d chunks): output off by %.2f x tolerance", c->name, chunks,
              close_ratio(y, c->output, ny, 1e-4, 1e-4));
        CHECK(close_ratio(h, c->hidden, nh, 1e-4, 1e-4) <= 1, "%s (%d chunks): hidden off", c->name, chunks);
        free(y), free(h);
        mg_layer_free(l);
    }
    golden_free(cs, n);
}

/* forward over T steps == T calls of step (to 1e-5 relative), and forward(prev) over a split == forward. */
static void test_forward_step_split(int cell, int dim, double expansion) {
    mg_layer *l = make(cell, dim, expansion, MG_KERNEL_AUTO, NULL, NULL);
    mg_layer_init_uniform(l, 42);
    int di, B = 2, T = 50;
    mg_layer_shape(l, NULL, &di, NULL, NULL);
    size_t nx = (size_t)B * T * dim;
    float *x = malloc(nx * sizeof(float)), *y = malloc(nx * sizeof(float)), *ys = malloc(nx * sizeof(float));
    float *h = calloc((size_t)B * di, sizeof(float)), *hs = calloc((size_t)B * di, sizeof(float));
    float *xt = malloc((size_t)B * dim * sizeof(float)), *yt = malloc((size_t)B * dim * sizeof(float));
    fill_uniform(x, nx, -2, 2);
    CHECK(mg_layer_forward(l, x, B, T, NULL, y, h) == MG_OK, "%s", mg_last_error());

    /* a loop of step: gather x[:, t], scatter y[:, t] */
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++) memcpy(xt + b * dim, x + ((size_t)b * T + t) * dim, dim * sizeof(float));
        CHECK(mg_layer_step(l, xt, B, t ? hs : NULL, yt, hs) == MG_OK, "%s", mg_last_error());
        for (int b = 0; b < B; b++) memcpy(ys + ((size_t)b * T + t) * dim, yt + b * dim, dim * sizeof(float));
    }
    CHECK(close_ratio(ys, y, nx, 1e-6, 1e-5) <= 1, "cell %d: step loop vs forward off by %.2f x", cell,
          close_ratio(ys, y, nx, 1e-6, 1e-5));
    CHECK(close_ratio(hs, h, (size_t)B * di, 1e-6, 1e-5) <= 1, "cell %d: step hidden vs forward", cell);

    /* split at every point with B = 1: forward(x[:s]) then forward(x[s:], prev) */
    for (int s = 1; s < T; s += 7) {
        float h1[64], h2[64], y2[64 * 50];
        CHECK(di <= 64, "test sizes");
        mg_layer_forward(l, x, 1, s, NULL, y2, h1);
        mg_layer_forward(l, x + (size_t)s * dim, 1, T - s, h1, y2 + (size_t)s * dim, h2);
        CHECK(close_ratio(y2, y, (size_t)T * dim, 1e-6, 1e-5) <= 1, "cell %d split %d: outputs", cell, s);
        CHECK(close_ratio(h2, h, di, 1e-6, 1e-5) <= 1, "cell %d split %d: hidden", cell, s);
    }
    free(x), free(y), free(ys), free(h), free(hs), free(xt), free(yt);
    mg_layer_free(l);
}

static void test_bad_arguments(void) {
    mg_layer_params p = mg_layer_default_params();
    mg_layer *l = NULL;
    p.dim = 0;
    CHECK(mg_layer_create(&p, NULL, NULL, &l) == MG_EINVAL && l == NULL, "dim 0 accepted");
    CHECK(strstr(mg_last_error(), "dim") != NULL, "message names dim: %s", mg_last_error());
    p.dim = 8, p.expansion_factor = -1;
    CHECK(mg_layer_create(&p, NULL, NULL, &l) == MG_EINVAL, "negative expansion accepted");
    p.expansion_factor = 0.01;
    CHECK(mg_layer_create(&p, NULL, NULL, &l) == MG_EINVAL, "inner width 0 accepted");
    p.expansion_factor = 1, p.cell = 7;
    CHECK(mg_layer_create(&p, NULL, NULL, &l) == MG_EINVAL, "cell 7 accepted");
    p.cell = MG_CELL_GRU, p.kernel = 99;
    CHECK(mg_layer_create(&p, NULL, NULL, &l) == MG_EINVAL, "kernel 99 accepted");
    p.kernel = MG_KERNEL_AUTO, p.scan_chunks = -1;
    CHECK(mg_layer_create(&p, NULL, NULL, &l) == MG_EINVAL, "scan_chunks -1 accepted");
    p.scan_chunks = 0, p.dim = 1 << 20, p.expansion_factor = 1;
    CHECK(mg_layer_create(&p, NULL, NULL, &l) == MG_ESHAPE, "huge layer accepted: %s", mg_last_error());
    CHECK(mg_layer_create(NULL, NULL, NULL, &l) == MG_EINVAL, "NULL params accepted");

    l = make(MG_CELL_LSTM, 4, 1.0, MG_KERNEL_AUTO, NULL, NULL);
    float x[8] = {0}, y[8], h[8];
    CHECK(mg_layer_forward(l, x, 0, 1, NULL, y, h) == MG_EINVAL, "batch 0 accepted");
    CHECK(mg_layer_forward(l, x, 1, -3, NULL, y, h) == MG_EINVAL, "seq_len -3 accepted");
    CHECK(strstr(mg_last_error(), "seq_len") != NULL, "message names seq_len: %s", mg_last_error());
    CHECK(mg_layer_forward(l, NULL, 1, 1, NULL, y, h) == MG_EINVAL, "NULL x accepted");
    CHECK(mg_layer_forward(l, x, 1 << 20, 1 << 20, NULL, y, h) == MG_ESHAPE, "overflowing batch*seq_len accepted");
    CHECK(mg_layer_step(NULL, x, 1, NULL, y, h) == MG_EINVAL, "NULL layer accepted");
    CHECK(strcmp(mg_strerror(MG_ESHAPE), "MG_ESHAPE") == 0, "strerror");
    mg_layer_free(l);
    mg_layer_free(NULL);
}

#ifdef __wasm_simd128__
/* Every vector activation of internal.h gives the scalar one's bits, lane by lane, on floats of every kind: random bit
 * patterns (subnormals, infinities, NaNs, the huge), a fine grid over [-100, 100], the clamps' edges and zeros. */
static int same(float a, float b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a); }

static void test_activations_four_at_once(void) {
    enum { N = 1 << 17 };
    static float x[N];
    const float edges[] = {0.0f, -0.0f, 4.0f, -4.0f, 87.0f, -87.0f, 88.0f, -88.0f, 1.0f, -1.0f, 0.5f, 1e-40f, -1e-40f,
                           INFINITY, -INFINITY, NAN, 5.656854f, -5.656854f, 3.4e38f, -3.4e38f};
    size_t n = 0;
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) x[n++] = edges[i];
    for (int i = 0; n < N / 2; i++) x[n++] = -100.0f + 200.0f * (float)i / (N / 2);
    for (uint32_t b = 12345; n < N; n++) {
        b = b * 1664525u + 1013904223u;
        memcpy(&x[n], &b, sizeof b);
    }
    int bad = 0;
    const mg_act_k k = mg_act_consts();
    for (size_t i = 0; i < N; i += 4) {
        mg_f4 v = wasm_v128_load(x + i), gelu, grad = mg_gelu_grad4(v, &gelu, &k);
        float got[7][4];
        wasm_v128_store(got[0], mg_expf4(v, &k)), wasm_v128_store(got[1], mg_erff4(v, &k));
        wasm_v128_store(got[2], mg_sigmoid4(v, &k)), wasm_v128_store(got[3], mg_gelu4(v, &k));
        wasm_v128_store(got[4], grad), wasm_v128_store(got[5], gelu), wasm_v128_store(got[6], mg_g4(v, &k));
        for (int l = 0; l < 4; l++) {
            float y = x[i + l], g, d = mg_gelu_grad(y, &g);
            const float want[7] = {mg_expf(y), mg_erff(y), mg_sigmoid(y), mg_gelu(y), d, g, mg_g(y)};
            for (int f = 0; f < 7; f++)
                if (!same(got[f][l], want[f]) && bad++ < 5)
                    CHECK(0, "activation %d of %.9g: %.9g four at a time, %.9g alone", f, y, got[f][l], want[f]);
        }
    }
    CHECK(bad == 0, "%d differences", bad);
}
#endif

/* The passes around the products, bit for bit against the definitions written out here one value at a time: the
 * bias + GELU after a product (mg_linear_act; wasm takes four columns at a time, the rest alone), GELU and its
 * gradient over pieces that start and end anywhere (mg_gelu_grad_range), and RMSNorm over row counts that are and
 * are not multiples of four (rms_rows takes four rows side by side). */
static void test_passes_bits(void) {
    enum { M = 9, N = 13, K = 6, D = 11 };
    float A[M * K], W[N * K], bias[N], C[M * N], want[M * N], x[M * D], w[D], out[M * D], g[M * N], d[M * N];
    fill_uniform(A, M * K, -2.0f, 2.0f), fill_uniform(W, N * K, -1.0f, 1.0f), fill_uniform(bias, N, -1.0f, 1.0f);
    mg_kernels k;
    mg_kernels_select(MG_KERNEL_AUTO, &k);
    mg_matrix wm = {.f32 = W, .rows = N, .cols = K};
    mg_linear_act(&k, &wm, M, A, K, want, N, NULL, MG_ACT_NONE);
    for (int i = 0; i < M * N; i++) want[i] = mg_gelu(want[i] + bias[i % N]);
    mg_linear_act(&k, &wm, M, A, K, C, N, bias, MG_ACT_GELU);
    CHECK(!memcmp(C, want, sizeof C), "bias + GELU after the product: other bits than bias then GELU alone");
    for (size_t i0 = 0; i0 < 6; i0++)
        for (size_t i1 = i0; i1 <= (size_t)M * N; i1 += 7) {
            memset(g, 0, sizeof g), memset(d, 0, sizeof d);
            mg_elementwise(mg_gelu_grad_range, C + i0, NULL, g + i0, d + i0, i1 - i0);
            int bad = 0;
            for (size_t i = 0; i < (size_t)M * N; i++) {
                float gl = 0.0f, gd = i >= i0 && i < i1 ? mg_gelu_grad(C[i], &gl) : 0.0f;
                bad += memcmp(&g[i], &gl, sizeof gl) != 0 || memcmp(&d[i], &gd, sizeof gd) != 0;
            }
            CHECK(bad == 0, "GELU and its gradient over [%zu, %zu): %d values differ", i0, i1, bad);
        }
    fill_uniform(x, M * D, -3.0f, 3.0f), fill_uniform(w, D, 0.5f, 1.5f);
    for (int T = 1; T <= M; T++) {
        mg_rmsnorm(out, x, w, T, D);
        int bad = 0;
        for (int t = 0; t < T; t++) {
            float ss = 0.0f;
            for (int i = 0; i < D; i++) ss += x[t * D + i] * x[t * D + i];
            float r = 1.0f / sqrtf(ss / (float)D + 1.1920928955078125e-07f);
            for (int i = 0; i < D; i++) {
                float v = x[t * D + i] * r * w[i];
                bad += memcmp(&out[t * D + i], &v, sizeof v) != 0;
            }
        }
        CHECK(bad == 0, "RMSNorm of %d rows: %d values differ from the definition", T, bad);
    }
}

int main(void) {
    test_golden();
    test_passes_bits();
#ifdef __wasm_simd128__
    test_activations_four_at_once();
#endif
    for (int cell = 0; cell < 2; cell++) {
        test_forward_step_split(cell, 16, 1.0);
        test_forward_step_split(cell, 12, 1.5);
        test_forward_step_split(cell, 10, 0.5);
    }
    test_bad_arguments();
    return check_report("test-layer");
}
