// int8 block products on plain armv8-a NEON (Cortex-A53/A55: no dotprod),
// the int8a16 products (16-bit inputs; the dotprod table keeps them) and the
// NEON activation quantizers.
//
// smull multiplies eight weight bytes by eight x bytes into int16, and smlal
// adds a second block's products to the same lanes: two products are at most
// 2 * 127 * 127 = 32258 < 32767, so the int16 lanes are exact. sadalp then
// adds adjacent int16 pairs into int32 accumulators. A weight register holds
// four rows of four bytes (a 4x4 block, or half an 8x4 block), and x's four
// bytes repeat in every 32-bit lane, so after sadalp each int32 lane holds
// half a row (two of its columns): one pairwise add per four rows at the end
// of a block row gives the row sums. Every result equals the generic int32
// reference bit for bit.
#include "neon/int8_neon.h"
#include "kernels/quantize_rule.h"

#include <cstring>

namespace sparsewave {
namespace {

// acc[0..1] take rows 0-1 and 2-3 of register w (weights of block k, with
// x), adding block k+1's register w2 (with x2) in int16 first.
inline void mac_pair(int32x4_t* acc, int8x16_t w, int8x16_t x, int8x16_t w2, int8x16_t x2) {
  acc[0] = vpadalq_s16(acc[0], vmlal_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vget_low_s8(w2), vget_low_s8(x2)));
  acc[1] = vpadalq_s16(acc[1], vmlal_high_s8(vmull_high_s8(w, x), w2, x2));
}
inline void mac_one(int32x4_t* acc, int8x16_t w, int8x16_t x) {
  acc[0] = vpadalq_s16(acc[0], vmull_s8(vget_low_s8(w), vget_low_s8(x)));
  acc[1] = vpadalq_s16(acc[1], vmull_high_s8(w, x));
}

// 8x4 blocks, 32 bytes: rows 0-3 then rows 4-7. Two blocks per step (one
// four-register load), four int32 accumulators (rows 01, 23, 45, 67) that
// never wait on each other; k and the weight pointer run on across rows.
void spmv_i8_8x4(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                 bool accumulate) {
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32_t* col = a.col_start;
  int32_t k = a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(k) * 32;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t end = a.row_ptr[rb + 1];
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (; k + 2 <= end; k += 2, w += 64) {
      const int8x16x4_t b = vld1q_s8_x4(w);
      const int8x16_t x0 = broadcast4(xq + col[k]), x1 = broadcast4(xq + col[k + 1]);
      mac_pair(acc, b.val[0], x0, b.val[2], x1);
      mac_pair(acc + 2, b.val[1], x0, b.val[3], x1);
    }
    if (k < end) {
      const int8x16_t x0 = broadcast4(xq + col[k]);
      mac_one(acc, vld1q_s8(w), x0);
      mac_one(acc + 2, vld1q_s8(w + 16), x0);
      ++k;
      w += 32;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    store_rows(y + r0, a.row_scale + r0, vpaddq_s32(acc[0], acc[1]), xs, accumulate);
    store_rows(y + r0 + 4, a.row_scale + r0 + 4, vpaddq_s32(acc[2], acc[3]), xs, accumulate);
  }
}

// 4x4 blocks, 16 bytes: four blocks per step (one four-register load),
// blocks 0+1 and 2+3 sharing int16 lanes, into two accumulator pairs.
void spmv_i8_4x4(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                 bool accumulate) {
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32_t* col = a.col_start;
  int32_t k = a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(k) * 16;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t end = a.row_ptr[rb + 1];
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (; k + 4 <= end; k += 4, w += 64) {
      const int8x16x4_t b = vld1q_s8_x4(w);
      mac_pair(acc, b.val[0], broadcast4(xq + col[k]), b.val[1], broadcast4(xq + col[k + 1]));
      mac_pair(acc + 2, b.val[2], broadcast4(xq + col[k + 2]), b.val[3], broadcast4(xq + col[k + 3]));
    }
    if (k + 2 <= end) {
      const int8x16x2_t b = vld1q_s8_x2(w);
      mac_pair(acc, b.val[0], broadcast4(xq + col[k]), b.val[1], broadcast4(xq + col[k + 1]));
      k += 2;
      w += 32;
    }
    if (k < end) {
      mac_one(acc + 2, vld1q_s8(w), broadcast4(xq + col[k]));
      ++k;
      w += 16;
    }
    const int32x4_t rows = vpaddq_s32(vaddq_s32(acc[0], acc[2]), vaddq_s32(acc[1], acc[3]));
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    store_rows(y + r0, a.row_scale + r0, rows, xs, accumulate);
  }
}

// The generic rule (kernels/table.h QuantizeFn) sixteen floats at a time.
// fmax/fmaxv propagate NaN, so a NaN or Inf anywhere leaves m not finite;
// fcvtns rounds half to even like nearbyint, and the values are within
// [-127, 127] so the saturating narrows change nothing.
AbsMax abs_max_neon(const float* x, int n) {
  float32x4_t m0 = vdupq_n_f32(0.0f), m1 = m0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const float32x4x4_t v = vld1q_f32_x4(x + i);
    m0 = vmaxq_f32(m0, vmaxq_f32(vabsq_f32(v.val[0]), vabsq_f32(v.val[1])));
    m1 = vmaxq_f32(m1, vmaxq_f32(vabsq_f32(v.val[2]), vabsq_f32(v.val[3])));
  }
  for (; i + 4 <= n; i += 4) m0 = vmaxq_f32(m0, vabsq_f32(vld1q_f32(x + i)));
  AbsMax r;
  r.m = vmaxvq_f32(vmaxq_f32(m0, m1));
  r.finite = r.m <= 3.402823466e38f;  // false for NaN and Inf
  abs_max_tail(x, i, n, r);
  return r;
}

float quantize_neon(const float* x, int n, int8_t* q) {
  const AbsMax r = abs_max_neon(x, n);
  float scale;
  if (quantize_degenerate(r, n, q, &scale)) return scale;
  const float inv = quantize_multiplier(r);
  const float32x4_t inv4 = vdupq_n_f32(inv);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const float32x4x4_t v = vld1q_f32_x4(x + i);
    const int16x8_t lo = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(v.val[0], inv4))),
                                      vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(v.val[1], inv4))));
    const int16x8_t hi = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(v.val[2], inv4))),
                                      vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(v.val[3], inv4))));
    vst1q_s8(q + i, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
  }
  quantize_tail(x, i, n, inv, q);
  return quantize_scale(r);
}

// x[0, 8) * inv rounded half to even, as int16 (|x * inv| <= qmax <= 32767,
// so the saturating narrow changes nothing).
inline int16x8_t codes8_i16(const float* x, float32x4_t inv4) {
  const float32x4x2_t v = vld1q_f32_x2(x);
  return vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(v.val[0], inv4))),
                      vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(v.val[1], inv4))));
}

// The same rule to int16 (QuantizeI16Fn).
float quantize_i16_neon(const float* x, int n, int16_t* q, int qmax) {
  const AbsMax r = abs_max_neon(x, n);
  float scale;
  if (quantize_degenerate(r, n, q, &scale)) return scale;
  const float inv = quantize_multiplier(r, qmax);
  const float32x4_t inv4 = vdupq_n_f32(inv);
  int i = 0;
  for (; i + 8 <= n; i += 8) vst1q_s16(q + i, codes8_i16(x + i, inv4));
  quantize_tail(x, i, n, inv, q);
  return quantize_scale(r, qmax);
}

// int8 weights times 16-bit inputs (SpmvI8A16Fn). sxtl widens a 4x4 block's
// bytes to int16 (rows 0-1, rows 2-3) and smlal multiplies each row by x's
// four values into one int32x4 accumulator per row (a lane per column):
// products are at most 127 * 16383 and input_qmax keeps the row sums within
// int32. Pairwise adds fold the four columns at the end of a block row.
inline void mac4x4_i16(int32x4_t* acc, const int8_t* w, int16x8_t xx) {
  const int8x16_t b = vld1q_s8(w);
  const int16x8_t r01 = vmovl_s8(vget_low_s8(b)), r23 = vmovl_high_s8(b);
  acc[0] = vmlal_s16(acc[0], vget_low_s16(r01), vget_low_s16(xx));
  acc[1] = vmlal_high_s16(acc[1], r01, xx);
  acc[2] = vmlal_s16(acc[2], vget_low_s16(r23), vget_low_s16(xx));
  acc[3] = vmlal_high_s16(acc[3], r23, xx);
}
inline int16x8_t broadcast4_i16(const int16_t* p) {
  const int16x4_t x = vld1_s16(p);
  return vcombine_s16(x, x);
}
inline int32x4_t row_sums4(const int32x4_t* acc) {
  return vpaddq_s32(vpaddq_s32(acc[0], acc[1]), vpaddq_s32(acc[2], acc[3]));
}

template <int BR>
void spmv_i8a16(const BsrView& view, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                bool accumulate) {
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32x4_t zero = vdupq_n_s32(0);
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32x4_t acc[BR] = {};
    for (int r = 0; r < BR; ++r) acc[r] = zero;
    for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
      const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(k) * BR * 4;
      const int16x8_t xx = broadcast4_i16(xq + a.col_start[k]);
      for (int h = 0; h < BR / 4; ++h) mac4x4_i16(acc + 4 * h, w + 16 * h, xx);
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * BR;
    for (int h = 0; h < BR / 4; ++h)
      store_rows(y + r0 + 4 * h, a.row_scale + r0 + 4 * h, row_sums4(acc + 4 * h), xs, accumulate);
  }
}

}  // namespace

// The same codes as quads (QuantizeI16QuadsFn): hi = code >> 7 and lo =
// code & 127 of 8 codes narrow to 8 bytes each, and a zip of 32-bit lanes
// orders them hi 0-3, lo 0-3, hi 4-7, lo 4-7. Plain armv8-a: the dotprod
// table installs it next to the kernels that read the layout.
float quantize_i16_quads_neon(const float* x, int n, int padded_n, int8_t* quads, int qmax) {
  const AbsMax r = abs_max_neon(x, n);
  float scale;
  if (quantize_degenerate(r, 2 * padded_n, quads, &scale)) return scale;
  const float inv = quantize_multiplier(r, qmax);
  const float32x4_t inv4 = vdupq_n_f32(inv);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const int16x8_t code = codes8_i16(x + i, inv4);
    const int32x2_t hi = vreinterpret_s32_s8(vmovn_s16(vshrq_n_s16(code, 7)));
    const int32x2_t lo = vreinterpret_s32_s8(vmovn_s16(vandq_s16(code, vdupq_n_s16(127))));
    const int32x2x2_t quad = vzip_s32(hi, lo);
    vst1q_s8(quads + 2 * i, vreinterpretq_s8_s32(vcombine_s32(quad.val[0], quad.val[1])));
  }
  for (; i < padded_n; ++i) {
    const int code = i < n ? static_cast<int>(std::nearbyint(x[i] * inv)) : 0;
    int8_t* q = quads + 2 * (i & ~3) + (i & 3);
    q[0] = static_cast<int8_t>(code >> 7);
    q[4] = static_cast<int8_t>(code & 127);
  }
  return quantize_scale(r, qmax);
}

void add_neon_int8_kernels(KernelTable& t) {
  t.shape_8x4.spmv_i8 = spmv_i8_8x4;
  t.shape_4x4.spmv_i8 = spmv_i8_4x4;
  t.shape_8x4.spmv_i8a16 = spmv_i8a16<8>;
  t.shape_4x4.spmv_i8a16 = spmv_i8a16<4>;
  t.quantize = quantize_neon;
  t.quantize_i16 = quantize_i16_neon;
}

}  // namespace sparsewave
