/* activation.c — the constants of internal.h's vector activations, in a table the files that use them cannot see
 * into, so that the compiler loads them once before a loop (mg_act_consts) instead of writing v128.const in it,
 * which Chromium builds again at every turn (internal.h says more). */
#include "internal.h"

#ifdef __wasm_simd128__
const union mg_act_value mg_act_table[] = {
    {.f = MG_EXP_LO}, {.f = MG_EXP_HI}, {.f = MG_LOG2E}, {.f = MG_EXP_SHIFT}, {.f = MG_LN2_HI}, {.f = MG_LN2_LO},
    {.u = MG_EXP_BIAS}, {.f = 1.0f / 5040}, {.f = 1.0f / 720}, {.f = 1.0f / 120}, {.f = 1.0f / 24}, {.f = 1.0f / 6},
    {.f = -4.0f}, {.f = 4.0f}, {.f = MG_ERF_P6}, {.f = MG_ERF_P5}, {.f = MG_ERF_P4}, {.f = MG_ERF_P3}, {.f = MG_ERF_P2},
    {.f = MG_ERF_P1}, {.f = MG_ERF_P0}, {.f = MG_ERF_Q4}, {.f = MG_ERF_Q3}, {.f = MG_ERF_Q2}, {.f = MG_ERF_Q1},
    {.f = 0.0f}, {.f = 0.5f}, {.f = 1.0f}, {.f = -1.0f}, {.f = -0.5f}, {.f = MG_RSQRT2}, {.f = MG_RSQRT2PI},
};
_Static_assert(sizeof mg_act_table / sizeof *mg_act_table == sizeof(mg_act_k) / sizeof(mg_f4),
               "mg_act_table has one value for each field of mg_act_k");
#endif
