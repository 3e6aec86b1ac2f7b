// Scalar exp / sigmoid / tanh: branch-free float arithmetic and bit tricks,
// for scalar code outside the sample loop's kernels (output_heads.cpp; vmax
// and vmin also serve kernels/scalar_ops.h).
// The element-wise kernels use the same algorithm on vectors
// (kernels/elementwise_impl.h's exp_n), lane for lane. exp is accurate to
// ~1e-7 relative, sigmoid and tanh to ~1e-7 absolute.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sparsewave {

// max/min that both compilers vectorise: aarch64 has fmaxnm/fminnm for
// fmax/fmin; x86 has no such instruction (fmax's NaN rule), but if-converts
// the plain comparison into maxps/minps.
static inline float vmax(float a, float b) {
#if defined(__aarch64__)
  return std::fmax(a, b);
#else
  return a > b ? a : b;
#endif
}
static inline float vmin(float a, float b) {
#if defined(__aarch64__)
  return std::fmin(a, b);
#else
  return a < b ? a : b;
#endif
}

// exp(x) by range reduction x = k ln2 + r, |r| <= ln2/2, and a degree-6
// polynomial for exp(r); 2^k is built in the exponent bits. Inputs are
// clamped to [-87.3, 88.3] so the result stays finite and normal.
static inline float fast_exp(float x) {
  x = vmin(vmax(x, -87.3f), 88.3f);
  // Round to nearest with the 1.5*2^23 trick (vectorises without SSE4.1).
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = x - k * 0.693359375f + k * 2.12194440e-4f;  // ln2 split for exactness
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

static inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)): exact limits at +-inf and
// absolute error ~1e-7 everywhere (what a gate needs); branch-free.
static inline float fast_tanh(float x) {
  const float t = 1.0f - 2.0f / (fast_exp(2.0f * std::fabs(x)) + 1.0f);
  return std::copysign(t, x);
}

}  // namespace sparsewave
