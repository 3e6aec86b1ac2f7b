// Four-lane NEON vector operations (aarch64) for the element-wise kernel
// templates (kernels/elementwise_impl.h); the members mirror
// kernels/scalar_ops.h.
#pragma once
#include <arm_neon.h>

namespace sparsewave {
namespace {

struct NeonOps {
  using V = float32x4_t;
  static constexpr int lanes = 4;
  static V load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V set1(float a) { return vdupq_n_f32(a); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V max(V a, V b) { return vmaxnmq_f32(a, b); }
  static V min(V a, V b) { return vminnmq_f32(a, b); }
  static V abs(V a) { return vabsq_f32(a); }
  static V copysign(V magnitude, V sign) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sign, magnitude);  // sign bit from `sign`, the rest from `magnitude`
  }
  static V pow2(V k) {
    const int32x4_t e = vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }
  static bool any_ge(V a, V b) { return vmaxvq_u32(vcgeq_f32(a, b)) != 0; }
  static V keep_ge(V v, V a, V b) { return vreinterpretq_f32_u32(vandq_u32(vcgeq_f32(a, b), vreinterpretq_u32_f32(v))); }
  static float hmax(V a) { return vmaxnmvq_f32(a); }
  static float hsum(V a) { return vaddvq_f32(a); }
};

}  // namespace
}  // namespace sparsewave
