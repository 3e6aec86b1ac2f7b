// int8 block products with the armv8.2 dot-product instruction (Cortex-A55/
// A76 and later, Neoverse). Compiled with -march=armv8.2-a+dotprod (this file
// only; it uses no out-of-line inline code the linker could share with plain
// files) and installed only after HWCAP_ASIMDDP (kernels/dispatch.cpp).
//
// sdot adds to each int32 lane the dot product of that lane's four weight
// bytes and four x bytes, exactly. A weight register is four rows of four
// bytes; the by-element form (sdot v.4s, w.16b, x.4b[0]) takes x's four bytes
// from lane 0 of a register filled by one register-offset ldr, so each block
// costs one x load and no broadcast, and each lane is one row's running sum:
// no reduction at the end of a block row. Integer sums are exact in any
// order, so the bits equal the generic int32 reference's.
//
// The single-vector kernels walk one index stream (c) and one weight pointer (w) across
// block rows. A block row holds about 11 blocks at 95% sparsity, so the
// remainder after the unrolled steps matters: it takes at most one step
// each of four (8x4 only), two and one blocks, chosen by the bits of n.
#include "neon/int8_neon.h"

#include <cstring>

namespace sparsewave {
namespace {

// x's four quantized bytes at xq + col in lane 0: a zero-extended 32-bit
// load, which GCC and clang emit as one register-offset ldr s.
inline int8x8_t xquad(const int8_t* xq, int32_t col) {
  uint32_t v;
  std::memcpy(&v, xq + col, 4);
  return vcreate_s8(static_cast<uint64_t>(v));
}
inline int32x4_t dot(int32x4_t acc, int8x16_t w, int8x8_t x) { return vdotq_lane_s32(acc, w, x, 0); }

// Four 8x4 blocks (128 weight bytes at w, columns c[0..3]) into acc: lo0/hi0
// take rows 0-3/4-7 of the even blocks, lo1/hi1 of the odd ones, so
// consecutive sdots into one register are a block apart.
struct Acc8x4 {
  int32x4_t lo0, hi0, lo1, hi1;
};
inline void blocks4_8x4(Acc8x4& a, const int8_t* w, const int8_t* xq, const int32_t* c) {
  const int8x16x4_t b01 = vld1q_s8_x4(w), b23 = vld1q_s8_x4(w + 64);
  const int8x8_t x0 = xquad(xq, c[0]), x1 = xquad(xq, c[1]), x2 = xquad(xq, c[2]), x3 = xquad(xq, c[3]);
  a.lo0 = dot(a.lo0, b01.val[0], x0);
  a.hi0 = dot(a.hi0, b01.val[1], x0);
  a.lo1 = dot(a.lo1, b01.val[2], x1);
  a.hi1 = dot(a.hi1, b01.val[3], x1);
  a.lo0 = dot(a.lo0, b23.val[0], x2);
  a.hi0 = dot(a.hi0, b23.val[1], x2);
  a.lo1 = dot(a.lo1, b23.val[2], x3);
  a.hi1 = dot(a.hi1, b23.val[3], x3);
}

// 8x4 blocks, 32 bytes (rows 0-3, rows 4-7): eight blocks per step, then
// four, two and one.
void spmv_i8_8x4_dot(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                     bool accumulate) {
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32_t* c = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * 32;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb];  // blocks in this row
    const int32_t* const c8 = c + (n & ~7);                // end of the eight-block steps
    Acc8x4 acc = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (; c != c8; c += 8, w += 256) {
      blocks4_8x4(acc, w, xq, c);
      blocks4_8x4(acc, w + 128, xq, c + 4);
    }
    if (n & 4) {
      blocks4_8x4(acc, w, xq, c);
      c += 4;
      w += 128;
    }
    if (n & 2) {
      const int8x16x4_t b01 = vld1q_s8_x4(w);
      const int8x8_t x0 = xquad(xq, c[0]), x1 = xquad(xq, c[1]);
      acc.lo0 = dot(acc.lo0, b01.val[0], x0);
      acc.hi0 = dot(acc.hi0, b01.val[1], x0);
      acc.lo1 = dot(acc.lo1, b01.val[2], x1);
      acc.hi1 = dot(acc.hi1, b01.val[3], x1);
      c += 2;
      w += 64;
    }
    if (n & 1) {
      const int8x16x2_t b = vld1q_s8_x2(w);
      const int8x8_t x0 = xquad(xq, c[0]);
      acc.lo0 = dot(acc.lo0, b.val[0], x0);
      acc.hi0 = dot(acc.hi0, b.val[1], x0);
      c += 1;
      w += 32;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    store_rows(y + r0, a.row_scale + r0, vaddq_s32(acc.lo0, acc.lo1), xs, accumulate);
    store_rows(y + r0 + 4, a.row_scale + r0 + 4, vaddq_s32(acc.hi0, acc.hi1), xs, accumulate);
  }
}

// 4x4 blocks, 16 bytes, one register each: four blocks per step (one
// four-register load) into two accumulators, then two and one.
void spmv_i8_4x4_dot(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                     bool accumulate) {
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32_t* c = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * 16;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb];  // blocks in this row
    int32x4_t acc0 = vdupq_n_s32(0), acc1 = acc0;
    for (; n >= 4; n -= 4) {
      const int8x16x4_t b = vld1q_s8_x4(w);
      w += 64;
      acc0 = dot(acc0, b.val[0], xquad(xq, c[0]));
      acc1 = dot(acc1, b.val[1], xquad(xq, c[1]));
      acc0 = dot(acc0, b.val[2], xquad(xq, c[2]));
      acc1 = dot(acc1, b.val[3], xquad(xq, c[3]));
      c += 4;
    }
    if (n & 2) {
      const int8x16x2_t b = vld1q_s8_x2(w);
      w += 32;
      acc0 = dot(acc0, b.val[0], xquad(xq, c[0]));
      acc1 = dot(acc1, b.val[1], xquad(xq, c[1]));
      c += 2;
    }
    if (n & 1) {
      acc0 = dot(acc0, vld1q_s8(w), xquad(xq, *c++));
      w += 16;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    store_rows(y + r0, a.row_scale + r0, vaddq_s32(acc0, acc1), xs, accumulate);
  }
}

// Many vectors, one pass over the weights (Subscale's sub-tensors, batched
// streams): each block's weight registers are loaded once and every vector
// adds its own x bytes (one ldr s) with one sdot per four rows, into its own
// accumulators. Up to eight vectors a pass (8x4: 16 accumulators, 2 weight
// registers, the x registers: within NEON's 32). Exact int32 sums: the same
// bits as one spmv_i8 per vector.
constexpr int kGroup = 8;

template <int NV>
void many_group_8x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* x_scale, float* y,
                    std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  const int32_t* c = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * 32;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32x4_t lo[NV], hi[NV];
    for (int v = 0; v < NV; ++v) lo[v] = hi[v] = vdupq_n_s32(0);
    for (int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb]; n > 0; --n, ++c, w += 32) {
      const int8x16x2_t b = vld1q_s8_x2(w);
      for (int v = 0; v < NV; ++v) {
        const int8x8_t x = xquad(xq + v * ldq, *c);
        lo[v] = dot(lo[v], b.val[0], x);
        hi[v] = dot(hi[v], b.val[1], x);
      }
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    for (int v = 0; v < NV; ++v) {
      const float32x4_t xs = vdupq_n_f32(x_scale[v]);
      store_rows(y + v * ldy + r0, a.row_scale + r0, lo[v], xs, accumulate);
      store_rows(y + v * ldy + r0 + 4, a.row_scale + r0 + 4, hi[v], xs, accumulate);
    }
  }
}

template <int NV>
void many_group_4x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* x_scale, float* y,
                    std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  const int32_t* c = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * 16;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32x4_t acc[NV];
    for (auto& v : acc) v = vdupq_n_s32(0);
    for (int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb]; n > 0; --n, ++c, w += 16) {
      const int8x16_t b = vld1q_s8(w);
      for (int v = 0; v < NV; ++v) acc[v] = dot(acc[v], b, xquad(xq + v * ldq, *c));
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    for (int v = 0; v < NV; ++v) store_rows(y + v * ldy + r0, a.row_scale + r0, acc[v], vdupq_n_f32(x_scale[v]), accumulate);
  }
}

// nv in [1, NV]: the group kernel instantiated for exactly nv vectors.
template <template <int> class Group, int NV>
struct GroupOf {
  static void run(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* xs, float* y,
                  std::ptrdiff_t ldy, int nv, int rb_begin, int rb_end, bool accumulate) {
    if constexpr (NV > 1) {
      if (nv < NV) return GroupOf<Group, NV - 1>::run(a, xq, ldq, xs, y, ldy, nv, rb_begin, rb_end, accumulate);
    }
    Group<NV>::run(a, xq, ldq, xs, y, ldy, rb_begin, rb_end, accumulate);
  }
};
template <int NV>
struct Group8x4 {
  static constexpr auto run = many_group_8x4<NV>;
};
template <int NV>
struct Group4x4 {
  static constexpr auto run = many_group_4x4<NV>;
};

template <template <int> class Group>
void many(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
          int nvec, int rb_begin, int rb_end, bool accumulate) {
  for (int v = 0; v < nvec; v += kGroup) {
    const int nv = nvec - v < kGroup ? nvec - v : kGroup;
    GroupOf<Group, kGroup>::run(a, xq + v * ldq, ldq, xs + v, y + v * ldy, ldy, nv, rb_begin, rb_end, accumulate);
  }
}

// --- int8a16 as two int8 products (SpmvI8A16QuadsFn) ---------------------
// |xq| <= kInputQmaxCap = 16383, so xq = 128 * hi + lo with hi = xq >> 7 in
// [-128, 127] and lo = xq & 127 in [0, 127]: both int8. The quantizer wrote
// them as quads (a block's 4 hi bytes, then its 4 lo bytes), so one ldr d
// per block feeds both sdots per four rows: lane 0 into the hi accumulator,
// lane 1 into the lo one. The row's sum is 128 * acc_hi + acc_lo; int32
// arithmetic wraps, so that is exact whenever the true sum fits int32, which
// input_qmax guarantees.

// Accumulators of one block row: [block parity][four-row group], so
// consecutive blocks' sdots go to different registers.
template <int BR>
struct A16Acc {
  int32x4_t hi[2][BR / 4], lo[2][BR / 4];
};

inline int8x8_t a16_quad(const int8_t* quads, int32_t col) { return vld1_s8(quads + 2 * static_cast<std::ptrdiff_t>(col)); }

// One four-row group of a block: its hi and lo sdots.
template <int BR>
inline void a16_rows(A16Acc<BR>& a, int parity, int h, int8x16_t w, int8x8_t x) {
  a.hi[parity][h] = vdotq_lane_s32(a.hi[parity][h], w, x, 0);
  a.lo[parity][h] = vdotq_lane_s32(a.lo[parity][h], w, x, 1);
}

// Four blocks: their weights in whole 64-byte ld1s (two for 8x4, one for
// 4x4), each loaded into its own named registers (reusing one set made GCC
// copy them out first).
inline void a16_blocks4(A16Acc<8>& a, const int8_t* w, const int8_t* quads, const int32_t* c) {
  const int8x16x4_t b01 = vld1q_s8_x4(w), b23 = vld1q_s8_x4(w + 64);
  const int8x8_t x0 = a16_quad(quads, c[0]), x1 = a16_quad(quads, c[1]);
  const int8x8_t x2 = a16_quad(quads, c[2]), x3 = a16_quad(quads, c[3]);
  a16_rows(a, 0, 0, b01.val[0], x0);
  a16_rows(a, 0, 1, b01.val[1], x0);
  a16_rows(a, 1, 0, b01.val[2], x1);
  a16_rows(a, 1, 1, b01.val[3], x1);
  a16_rows(a, 0, 0, b23.val[0], x2);
  a16_rows(a, 0, 1, b23.val[1], x2);
  a16_rows(a, 1, 0, b23.val[2], x3);
  a16_rows(a, 1, 1, b23.val[3], x3);
}
inline void a16_blocks4(A16Acc<4>& a, const int8_t* w, const int8_t* quads, const int32_t* c) {
  const int8x16x4_t b = vld1q_s8_x4(w);
  a16_rows(a, 0, 0, b.val[0], a16_quad(quads, c[0]));
  a16_rows(a, 1, 0, b.val[1], a16_quad(quads, c[1]));
  a16_rows(a, 0, 0, b.val[2], a16_quad(quads, c[2]));
  a16_rows(a, 1, 0, b.val[3], a16_quad(quads, c[3]));
}
// One block (the row's last ones).
template <int BR>
inline void a16_block(A16Acc<BR>& a, int parity, const int8_t* w, const int8_t* quads, int32_t col) {
  const int8x8_t x = a16_quad(quads, col);
  for (int h = 0; h < BR / 4; ++h) a16_rows(a, parity, h, vld1q_s8(w + 16 * h), x);
}

// Four blocks a step, then two and one (the bits of the row's count).
template <int BR>
void spmv_i8a16_quads_dot(const BsrView& view, const int8_t* quads, float x_scale, float* y, int rb_begin,
                          int rb_end, bool accumulate) {
  constexpr int kBytes = BR * 4;  // one block's weights
  const BsrView a = view;
  const float32x4_t xs = vdupq_n_f32(x_scale);
  const int32_t* c = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * kBytes;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb];
    const int32_t* const c4 = c + (n & ~3);
    A16Acc<BR> acc;
    for (int p = 0; p < 2; ++p)
      for (int h = 0; h < BR / 4; ++h) acc.hi[p][h] = acc.lo[p][h] = vdupq_n_s32(0);
    for (; c != c4; c += 4, w += 4 * kBytes) a16_blocks4(acc, w, quads, c);
    if (n & 2) {
      a16_block(acc, 0, w, quads, c[0]);
      a16_block(acc, 1, w + kBytes, quads, c[1]);
      c += 2;
      w += 2 * kBytes;
    }
    if (n & 1) {
      a16_block(acc, 0, w, quads, c[0]);
      c += 1;
      w += kBytes;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * BR;
    for (int h = 0; h < BR / 4; ++h) {
      const int32x4_t hi = vaddq_s32(acc.hi[0][h], acc.hi[1][h]), lo = vaddq_s32(acc.lo[0][h], acc.lo[1][h]);
      store_rows(y + r0 + 4 * h, a.row_scale + r0 + 4 * h, vaddq_s32(vshlq_n_s32(hi, 7), lo), xs, accumulate);
    }
  }
}

}  // namespace

void add_neon_dotprod_int8_kernels(KernelTable& t) {
  t.shape_8x4.spmv_i8 = spmv_i8_8x4_dot;
  t.shape_4x4.spmv_i8 = spmv_i8_4x4_dot;
  t.shape_8x4.spmv_i8a16_quads = spmv_i8a16_quads_dot<8>;
  t.shape_4x4.spmv_i8a16_quads = spmv_i8a16_quads_dot<4>;
  t.quantize_i16_quads = quantize_i16_quads_neon;
  t.shape_8x4.spmv_many_i8 = many<Group8x4>;
  t.shape_4x4.spmv_many_i8 = many<Group4x4>;
}

}  // namespace sparsewave
