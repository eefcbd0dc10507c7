/* kernels.c — which kernels a handle uses: the table from an MG_KERNEL_* choice to the F32 kernels of matmul_f32.c
 * and the int8 ones of matmul_q8.c, as this build has them (plain C, vector, relaxed SIMD); and a model's weights
 * packed in place for them at load. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* mg_pack_q8 (q8) or mg_pack_f32 of W [N, K] into W itself, through a temporary copy; 0 (W left as it was) when the
 * copy cannot be had. */
static int pack_in_place(void *W, int N, int K, int q8) {
    size_t bytes = (size_t)N * K * (q8 ? sizeof(int8_t) : sizeof(float));
    void *original = malloc(bytes);
    if (!original) return 0;
    memcpy(original, W, bytes);
    if (q8) mg_pack_q8(original, N, K, W);
    else mg_pack_f32(original, N, K, W);
    free(original);
    return 1;
}

int mg_pack_f32_in_place(float *W, int N, int K) { return pack_in_place(W, N, K, 0); }
int mg_pack_q8_in_place(int8_t *W, int N, int K) { return pack_in_place(W, N, K, 1); }

int mg_has_simd(void) {
#ifdef MG_VECTOR
    return 1;
#else
    return 0;
#endif
}

/* The int8 kernels on packed weights: in wasm, where they read the weights 1.3x (in cache) to 4x (from memory)
 * faster than row-major ones; natively gcc's vectorization of the row-major loop was 2-20x faster than of the
 * packed one, so native builds do not pack int8 weights. */
#ifdef __wasm_simd128__
#define MG_Q8_PACKED(fn) fn
#else
#define MG_Q8_PACKED(fn) NULL
#endif

int mg_kernels_select(int kernel, mg_kernels *k) {
    switch (kernel) {
    case MG_KERNEL_REFERENCE: *k = (mg_kernels){mg_matmul_reference, mg_matmul_q8_reference, NULL, NULL}; return 1;
#ifdef MG_VECTOR
    case MG_KERNEL_AUTO:
#ifdef __wasm_relaxed_simd__
    case MG_KERNEL_SIMD: *k = (mg_kernels){mg_matmul_simd, mg_matmul_q8_simd, mg_matmul_packed_fused, MG_Q8_PACKED(mg_matmul_q8_simd_packed)}; return 1;
#else
    case MG_KERNEL_SIMD:
        *k = (mg_kernels){mg_matmul_simd, mg_matmul_q8_simd, mg_matmul_packed, MG_Q8_PACKED(mg_matmul_q8_simd_packed)};
        return 1;
#endif
    case MG_KERNEL_PORTABLE:
        *k = (mg_kernels){mg_matmul_simd, mg_matmul_q8_portable, mg_matmul_packed, MG_Q8_PACKED(mg_matmul_q8_portable_packed)};
        return 1;
#else
    case MG_KERNEL_PORTABLE:
    case MG_KERNEL_AUTO: *k = (mg_kernels){mg_matmul_reference, mg_matmul_q8_reference, NULL, NULL}; return 1;
#endif
    default: return 0;
    }
}

