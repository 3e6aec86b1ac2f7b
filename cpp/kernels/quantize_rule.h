// The scalar parts of the activation rule (QuantizeFn and QuantizeI16Fn in
// kernels/table.h), shared by every ISA's quantizers so the rule has one
// copy: the max scan's tail, the degenerate cases (tiny max, NaN/Inf), the
// rounding of the tail and the scale. The rule is the same for 8 and 16 bits
// but for the largest code, qmax (127, or the matrix's input_qmax). Each ISA
// adds only its vector loops.
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
template <class Q>
inline bool quantize_degenerate(const AbsMax& r, int n, Q* q, float* scale) {
  if (r.finite && r.m >= kQuantizeTinyMax) return false;  // below it qmax / m would overflow
  std::memset(q, 0, static_cast<std::size_t>(n) * sizeof(Q));
  *scale = r.finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
  return true;
}

inline float quantize_multiplier(const AbsMax& r, int qmax = 127) { return static_cast<float>(qmax) / r.m; }
inline float quantize_scale(const AbsMax& r, int qmax = 127) { return r.m / static_cast<float>(qmax); }

// q[i] = round-half-even(x[i] * inv) for i in [from, n).
template <class Q>
inline void quantize_tail(const float* x, int from, int n, float inv, Q* q) {
  for (int i = from; i < n; ++i) q[i] = static_cast<Q>(std::nearbyint(x[i] * inv));
}

}  // namespace sparsewave
