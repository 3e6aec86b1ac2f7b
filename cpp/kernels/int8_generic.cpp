// The int8 reference (kernels/table.h SpmvI8Fn, QuantizeFn). Built with
// -ffp-contract=off: the rescale is a multiply, then a separate add, on every
// target (gcc would otherwise fuse them into fmadd on aarch64, and the bits
// would depend on the compiler instead of the definition).
#include "kernels/int8_generic.h"
#include "kernels/quantize_rule.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace sparsewave {
namespace {

// The int8 reference: exact int32 sums, one rescale per row. X is the
// inputs' type: int8, or int16 for int8a16 (within input_qmax, the sums
// still fit int32).
template <int BR, int BC, class X>
void spmv_i8_fixed(const BsrView& a, const X* xq, float x_scale, float* y, int rb_begin, int rb_end,
                   bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32_t acc[BR] = {};
    for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
      const int8_t* blk = a.values_i8 + static_cast<std::ptrdiff_t>(k) * BR * BC;
      const X* xc = xq + a.col_start[k];
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

void spmv_i8a16_generic_4x4(const BsrView& a, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                            bool accumulate) {
  spmv_i8_fixed<4, 4>(a, xq, x_scale, y, rb_begin, rb_end, accumulate);
}

void spmv_i8a16_generic_8x4(const BsrView& a, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                            bool accumulate) {
  spmv_i8_fixed<8, 4>(a, xq, x_scale, y, rb_begin, rb_end, accumulate);
}

namespace {
template <class Q>
float quantize_fixed(const float* x, int n, Q* q, int qmax) {
  AbsMax r;
  abs_max_tail(x, 0, n, r);
  float scale;
  if (quantize_degenerate(r, n, q, &scale)) return scale;
  quantize_tail(x, 0, n, quantize_multiplier(r, qmax), q);
  return quantize_scale(r, qmax);
}
}  // namespace

float quantize_generic(const float* x, int n, int8_t* q) { return quantize_fixed(x, n, q, 127); }

float quantize_i16_generic(const float* x, int n, int16_t* q, int qmax) { return quantize_fixed(x, n, q, qmax); }

}  // namespace sparsewave
