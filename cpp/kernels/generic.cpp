// Portable scalar kernels: the reference every ISA path is tested against,
// and the fallback on CPUs without a vector path.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/int8_generic.h"
#include "kernels/table.h"
#include "numerics/half.h"

namespace sparsewave {
namespace {

// Value i of the matrix's block storage, in float32 or widened from float16.
struct F32 {
  static float at(const BsrView& a, std::ptrdiff_t i) { return a.values[i]; }
};
struct F16 {
  static float at(const BsrView& a, std::ptrdiff_t i) { return half_to_float(a.values_f16[i]); }
};

template <int BR, int BC, class W = F32>
void spmv_fixed(const BsrView& a, const float* x, float* y, int rb_begin,
                int rb_end, bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    float acc[BR] = {};
    for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
      const std::ptrdiff_t blk = static_cast<std::ptrdiff_t>(k) * BR * BC;
      const float* xc = x + a.col_start[k];
      for (int r = 0; r < BR; ++r)
        for (int c = 0; c < BC; ++c) acc[r] += W::at(a, blk + r * BC + c) * xc[c];
    }
    float* yr = y + static_cast<std::ptrdiff_t>(rb) * BR;
    for (int r = 0; r < BR; ++r) yr[r] = accumulate ? yr[r] + acc[r] : acc[r];
  }
}

template <int BR, int BC>
void spmm_fixed(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y,
                std::ptrdiff_t ldy, int n, int rb_begin, int rb_end,
                bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    float* yb = y + static_cast<std::ptrdiff_t>(rb) * BR * ldy;
    if (!accumulate)
      for (int r = 0; r < BR; ++r)
        for (int j = 0; j < n; ++j) yb[r * ldy + j] = 0.0f;
    for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
      const float* blk = a.values + static_cast<std::ptrdiff_t>(k) * BR * BC;
      const float* xc = x + a.col_start[k] * ldx;
      for (int r = 0; r < BR; ++r)
        for (int c = 0; c < BC; ++c) {
          const float w = blk[r * BC + c];
          const float* xr = xc + c * ldx;
          float* yr = yb + r * ldy;
          for (int j = 0; j < n; ++j) yr[j] += w * xr[j];
        }
    }
  }
}

// Multi-vector product as one product per vector (the reference).
template <int BR, int BC, class W = F32>
void spmv_many_fixed(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
                     int rb_begin, int rb_end, bool accumulate) {
  for (int v = 0; v < nvec; ++v) spmv_fixed<BR, BC, W>(a, x + v * ldx, y + v * ldy, rb_begin, rb_end, accumulate);
}

// The generic slots for BR x BC blocks.
template <int BR, int BC>
BlockKernels fixed_shape() {
  BlockKernels k;
  k.spmv = spmv_fixed<BR, BC>;
  k.spmv_many = spmv_many_fixed<BR, BC>;
  k.spmm = spmm_fixed<BR, BC>;
  k.spmv_f16 = spmv_fixed<BR, BC, F16>;
  k.spmv_many_f16 = spmv_many_fixed<BR, BC, F16>;
  return k;
}

KernelTable make_generic_table() {
  KernelTable t;
  t.name = "generic";
  t.shape_4x4 = fixed_shape<4, 4>();
  t.shape_4x4.spmv_i8 = spmv_i8_generic_4x4;
  t.shape_4x4.spmv_i8a16 = spmv_i8a16_generic_4x4;
  t.shape_8x4 = fixed_shape<8, 4>();
  t.shape_8x4.spmv_i8 = spmv_i8_generic_8x4;
  t.shape_8x4.spmv_i8a16 = spmv_i8a16_generic_8x4;
  t.shape_16x1 = fixed_shape<16, 1>();
  t.shape_1x4 = fixed_shape<1, 4>();
  t.shape_1x1 = fixed_shape<1, 1>();
  t.elementwise = generic_elementwise();
  t.quantize = quantize_generic;
  t.quantize_i16 = quantize_i16_generic;
  return t;
}

}  // namespace

void generic_spmm(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int n,
                  int rb_begin, int rb_end, bool accumulate) {
  generic_kernels().block(a.block_rows, a.block_cols).spmm(a, x, ldx, y, ldy, n, rb_begin, rb_end, accumulate);
}

const KernelTable& generic_kernels() {
  static const KernelTable table = make_generic_table();
  return table;
}

}  // namespace sparsewave
