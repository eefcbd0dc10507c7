// The core's peak in WebAssembly SIMD (bench/peak.mjs): register-resident chains of f32x4 arithmetic, one thread.
// NACC independent accumulators hide the latency of each op; every iteration does NACC f32x4 fused multiply-adds
// (relaxed madd: 8 flops each) or NACC multiplies + NACC adds (plain: the same 8 flops in two ops). Nothing touches
// memory inside the loop. Built by bench/peak/build.sh with clang-19:
//   peak-plain.wasm:   -msimd128                   exports madd (mul + add)
//   peak-relaxed.wasm: -msimd128 -mrelaxed-simd    exports madd (relaxed f32x4.madd, fused or not as the engine picks)
// and madd1, one lane of the same op, which tells whether it is fused.
#include <wasm_simd128.h>

#define NACC 12

#ifdef __wasm_relaxed_simd__
#define MADD(a, b, c) wasm_f32x4_relaxed_madd(a, b, c)
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), c)
#endif

// acc[k] = acc[k] * m + c, `iters` times for each of the NACC accumulators (8 * NACC * iters flops); returns the sum
// of the accumulators' lanes, so that nothing is optimised away and a known answer can be checked.
float madd(int iters, float m, float c) {
  v128_t vm = wasm_f32x4_splat(m), vc = wasm_f32x4_splat(c);
  v128_t acc[NACC];
  for (int k = 0; k < NACC; k++) acc[k] = wasm_f32x4_splat((float)k);
  for (int i = 0; i < iters; i++) {
#pragma clang loop unroll(full)
    for (int k = 0; k < NACC; k++) acc[k] = MADD(acc[k], vm, vc);
  }
  v128_t s = acc[0];
  for (int k = 1; k < NACC; k++) s = wasm_f32x4_add(s, acc[k]);
  return wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 2) +
         wasm_f32x4_extract_lane(s, 3);
}

int accumulators(void) { return NACC; }

// One lane of MADD(a, b, c): with a = 1 + 2^-23, b = 1 - 2^-23, c = -1 a fused multiply-add gives -2^-46, mul + add 0.
float madd1(float a, float b, float c) {
  return wasm_f32x4_extract_lane(MADD(wasm_f32x4_splat(a), wasm_f32x4_splat(b), wasm_f32x4_splat(c)), 0);
}
