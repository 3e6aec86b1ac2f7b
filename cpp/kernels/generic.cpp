// Portable scalar kernels: the reference every ISA path is tested against,
// and the fallback on CPUs without a vector path.
#include <algorithm>
#include <cmath>
#include <limits>

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

// Multi-vector product as one product per vector (the reference).
template <int BR, int BC, class W = F32>
void spmv_many_fixed(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
                     int rb_begin, int rb_end, bool accumulate) {
  for (int v = 0; v < nvec; ++v) spmv_fixed<BR, BC, W>(a, x + v * ldx, y + v * ldy, rb_begin, rb_end, accumulate);
}

float quantize_generic(const float* x, int n, int8_t* q) {
  float m = 0.0f;
  bool finite = true;
  for (int i = 0; i < n; ++i) {
    const float v = std::fabs(x[i]);
    finite &= v <= std::numeric_limits<float>::max();  // false for NaN and Inf
    m = v > m ? v : m;
  }
  if (!finite || m == 0.0f) {
    std::fill(q, q + n, int8_t{0});
    return finite ? 0.0f : std::numeric_limits<float>::quiet_NaN();
  }
  const float inv = 127.0f / m;
  for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inv));
  return m / 127.0f;
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
  if ((BR == 4 || BR == 8) && BC == 4) k.spmv_i8 = spmv_i8_fixed<BR, BC>;
  return k;
}

KernelTable make_generic_table() {
  KernelTable t;
  t.name = "generic";
  t.shape_4x4 = fixed_shape<4, 4>();
  t.shape_8x4 = fixed_shape<8, 4>();
  t.shape_16x1 = fixed_shape<16, 1>();
  t.shape_1x1 = fixed_shape<1, 1>();
  t.elementwise = generic_elementwise();
  t.quantize = quantize_generic;
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
