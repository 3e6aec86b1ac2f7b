// The scalar parts of the int8 activation rule (QuantizeFn in kernels/table.h),
// shared by every ISA's quantizer so the rule has one copy: the max scan's
// tail, the degenerate cases (tiny max, NaN/Inf), the rounding of the tail
// and the scale. Each ISA adds only its vector loops.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/table.h"

namespace sparsewave {

struct AbsMax {
  float m = 0.0f;
  bool finite = true;  // no NaN or Inf seen
};

// Folds x[from, n) into r.
inline void abs_max_tail(const float* x, int from, int n, AbsMax& r) {
  for (int i = from; i < n; ++i) {
    const float v = std::fabs(x[i]);
    r.finite &= v <= std::numeric_limits<float>::max();  // false for NaN and Inf
    r.m = v > r.m ? v : r.m;
  }
}

// True for a vector the rule does not scale (q = 0; scale 0, or NaN when a
// value was NaN/Inf, so the product comes out NaN): q is zeroed, *scale set.
inline bool quantize_degenerate(const AbsMax& r, int n, int8_t* q, float* scale) {
  if (r.finite && r.m >= kQuantizeTinyMax) return false;  // below it 127 / m would overflow
  std::memset(q, 0, static_cast<std::size_t>(n));
  *scale = r.finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
  return true;
}

inline float quantize_multiplier(const AbsMax& r) { return 127.0f / r.m; }
inline float quantize_scale(const AbsMax& r) { return r.m / 127.0f; }

// q[i] = round-half-even(x[i] * inv) for i in [from, n).
inline void quantize_tail(const float* x, int from, int n, float inv, int8_t* q) {
  for (int i = from; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inv));
}

}  // namespace sparsewave
