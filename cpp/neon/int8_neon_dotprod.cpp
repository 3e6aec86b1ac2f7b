// int8 block products with the armv8.2 dot-product instruction (Cortex-A55/
// A76 and later, Neoverse). Compiled with -march=armv8.2-a+dotprod (this file
// only; it uses no out-of-line inline code the linker could share with plain
// files) and installed only after HWCAP_ASIMDDP (kernels/dispatch.cpp).
//
// sdot adds to each int32 lane the dot product of that lane's four weight
// bytes and four x bytes, exactly. A weight register is four rows of four
// bytes and x's four bytes repeat in every lane, so each lane is one row's
// running sum: no reduction at the end of a block row.
#include "neon/int8_neon.h"

namespace sparsewave {
namespace {

// 8x4 blocks, 32 bytes (rows 0-3, rows 4-7): four blocks per step (two
// four-register loads), alternating between two pairs of accumulators so
// consecutive sdots into one register are a block apart.
void spmv_i8_8x4_dot(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                     bool accumulate) {
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32_t* col = a.col_start;
  int32_t k = a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(k) * 32;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t end = a.row_ptr[rb + 1];
    int32x4_t lo0 = vdupq_n_s32(0), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    for (; k + 4 <= end; k += 4, w += 128) {
      const int8x16x4_t b01 = vld1q_s8_x4(w), b23 = vld1q_s8_x4(w + 64);
      const int8x16_t x0 = broadcast4(xq + col[k]), x1 = broadcast4(xq + col[k + 1]);
      const int8x16_t x2 = broadcast4(xq + col[k + 2]), x3 = broadcast4(xq + col[k + 3]);
      lo0 = vdotq_s32(lo0, b01.val[0], x0);
      hi0 = vdotq_s32(hi0, b01.val[1], x0);
      lo1 = vdotq_s32(lo1, b01.val[2], x1);
      hi1 = vdotq_s32(hi1, b01.val[3], x1);
      lo0 = vdotq_s32(lo0, b23.val[0], x2);
      hi0 = vdotq_s32(hi0, b23.val[1], x2);
      lo1 = vdotq_s32(lo1, b23.val[2], x3);
      hi1 = vdotq_s32(hi1, b23.val[3], x3);
    }
    for (; k < end; ++k, w += 32) {
      const int8x16x2_t b = vld1q_s8_x2(w);
      const int8x16_t x0 = broadcast4(xq + col[k]);
      lo0 = vdotq_s32(lo0, b.val[0], x0);
      hi0 = vdotq_s32(hi0, b.val[1], x0);
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    store_rows(y + r0, a.row_scale + r0, vaddq_s32(lo0, lo1), xs, accumulate);
    store_rows(y + r0 + 4, a.row_scale + r0 + 4, vaddq_s32(hi0, hi1), xs, accumulate);
  }
}

// 4x4 blocks, 16 bytes, one register each: four blocks per step (one
// four-register load) into two accumulators.
void spmv_i8_4x4_dot(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                     bool accumulate) {
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32_t* col = a.col_start;
  int32_t k = a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(k) * 16;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t end = a.row_ptr[rb + 1];
    int32x4_t acc0 = vdupq_n_s32(0), acc1 = acc0;
    for (; k + 4 <= end; k += 4, w += 64) {
      const int8x16x4_t b = vld1q_s8_x4(w);
      acc0 = vdotq_s32(acc0, b.val[0], broadcast4(xq + col[k]));
      acc1 = vdotq_s32(acc1, b.val[1], broadcast4(xq + col[k + 1]));
      acc0 = vdotq_s32(acc0, b.val[2], broadcast4(xq + col[k + 2]));
      acc1 = vdotq_s32(acc1, b.val[3], broadcast4(xq + col[k + 3]));
    }
    for (; k < end; ++k, w += 16) acc0 = vdotq_s32(acc0, vld1q_s8(w), broadcast4(xq + col[k]));
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    store_rows(y + r0, a.row_scale + r0, vaddq_s32(acc0, acc1), xs, accumulate);
  }
}

}  // namespace

void add_neon_dotprod_int8_kernels(KernelTable& t) {
  t.shape_8x4.spmv_i8 = spmv_i8_8x4_dot;
  t.shape_4x4.spmv_i8 = spmv_i8_4x4_dot;
}

}  // namespace sparsewave
