// One-lane vector operations for the element-wise kernel templates
// (kernels/elementwise_impl.h): the generic table's kernels, and every ISA's
// tail loop past its last whole vector. An ISA supplies the same members on
// its own register type (cpp/avx/avx2_ops.h, cpp/neon/neon_ops.h).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "numerics/activations.h"

namespace sparsewave {
namespace {  // each ISA file's copy stays private to it (compiled with its own flags)

struct ScalarOps {
  using V = float;
  static constexpr int lanes = 1;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V set1(float a) { return a; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V fma(V a, V b, V c) { return a * b + c; }  // a * b + c
  static V max(V a, V b) { return vmax(a, b); }
  static V min(V a, V b) { return vmin(a, b); }
  static V abs(V a) { return std::fabs(a); }
  static V copysign(V magnitude, V sign) { return std::copysign(magnitude, sign); }
  // 2^k for k integral in [-126, 127] (as a float).
  static V pow2(V k) {
    const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
    float r;
    std::memcpy(&r, &bits, sizeof(r));
    return r;
  }
  // Whether any lane of a is >= the same lane of b; v where a >= b, else 0.
  static bool any_ge(V a, V b) { return a >= b; }
  static V keep_ge(V v, V a, V b) { return a >= b ? v : 0.0f; }
  static float hmax(V a) { return a; }
  static float hsum(V a) { return a; }
};

}  // namespace
}  // namespace sparsewave
