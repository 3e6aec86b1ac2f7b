// int8 block products on NEON: int8_neon.cpp (plain armv8-a: widening
// multiplies, exact) and int8_neon_dotprod.cpp (sdot, compiled with +dotprod).
// Both give the generic int32 reference's bits (kernels/table.h SpmvI8Fn).
#pragma once
#include <arm_neon.h>

#include "kernels/table.h"

namespace sparsewave {

// The armv8-a spmv_i8 and spmv_i8a16 kernels (8x4, 4x4) and the NEON quantizers.
void add_neon_int8_kernels(KernelTable& table);

// QuantizeI16QuadsFn on plain armv8-a (for the dotprod table's quads kernels).
float quantize_i16_quads_neon(const float* x, int n, int padded_n, int8_t* quads, int qmax);

// The sdot spmv_i8 kernels. They execute armv8.2 dot-product instructions:
// install them only in a table chosen after HWCAP_ASIMDDP (CpuFeatures::dotprod).
void add_neon_dotprod_int8_kernels(KernelTable& table);

namespace {  // one copy per file: the dotprod file's copy must not serve plain NEON callers

// x's four quantized bytes at xq + c, in every 32-bit lane.
inline int8x16_t broadcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);  // unaligned; compiles to one load
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

// Four rows' y (=|+=) float(acc) * (row_scale * x_scale), in the reference's
// order (the files build with -ffp-contract=off: no fused multiply-add).
inline void store_rows(float* y, const float* row_scale, int32x4_t acc, float32x4_t x_scale, bool accumulate) {
  float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), vmulq_f32(vld1q_f32(row_scale), x_scale));
  if (accumulate) v = vaddq_f32(vld1q_f32(y), v);
  vst1q_f32(y, v);
}

}  // namespace
}  // namespace sparsewave
