// The int8 reference (kernels/table.h SpmvI8Fn, QuantizeFn). Built with
// -ffp-contract=off: the rescale is a multiply, then a separate add, on every
// target (gcc would otherwise fuse them into fmadd on aarch64, and the bits
// would depend on the compiler instead of the definition).
#include "kernels/int8_generic.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace sparsewave {
namespace {

// The int8 reference: exact int32 sums, one rescale per row.
template <int BR, int BC>
void spmv_i8_fixed(const BsrView& a, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                   bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32_t acc[BR] = {};
    for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
      const int8_t* blk = a.values_i8 + static_cast<std::ptrdiff_t>(k) * BR * BC;
      const int8_t* xc = xq + a.col_start[k];
      for (int r = 0; r < BR; ++r)
        for (int c = 0; c < BC; ++c) acc[r] += int32_t{blk[r * BC + c]} * int32_t{xc[c]};
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * BR;
    for (int r = 0; r < BR; ++r) {
      const float v = static_cast<float>(acc[r]) * (a.row_scale[r0 + r] * x_scale);
      y[r0 + r] = accumulate ? y[r0 + r] + v : v;
    }
  }
}

}  // namespace

void spmv_i8_generic_4x4(const BsrView& a, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                         bool accumulate) {
  spmv_i8_fixed<4, 4>(a, xq, x_scale, y, rb_begin, rb_end, accumulate);
}

void spmv_i8_generic_8x4(const BsrView& a, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                         bool accumulate) {
  spmv_i8_fixed<8, 4>(a, xq, x_scale, y, rb_begin, rb_end, accumulate);
}

float quantize_generic(const float* x, int n, int8_t* q) {
  float m = 0.0f;
  bool finite = true;
  for (int i = 0; i < n; ++i) {
    const float v = std::fabs(x[i]);
    finite &= v <= std::numeric_limits<float>::max();  // false for NaN and Inf
    m = v > m ? v : m;
  }
  if (!finite || m < kQuantizeTinyMax) {  // zero, or 127 / m would overflow
    std::fill(q, q + n, int8_t{0});
    return finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
  }
  const float inv = 127.0f / m;
  for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inv));
  return m / 127.0f;
}

}  // namespace sparsewave
