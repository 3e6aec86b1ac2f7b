// NEON kernels for aarch64 (Advanced SIMD, including the float16 -> float32
// conversion, is part of the baseline, so no run-time check is needed).
// Blocks are row-major; a 4x4 block is four q-registers.
#include <arm_neon.h>

#include "kernels/spmv_many_groups.h"
#include "kernels/table.h"
#include "neon/int8_neon.h"
#include "neon/row4_neon.h"

namespace sparsewave {
namespace {

// Where the q-th four weights of block k come from: float32, or float16
// widened on load (half the bytes). block() loads a whole block (16 weights)
// at p with as few instructions as it can: one ld1 of four registers for
// float32, one of two for float16.
struct F32 {
  using T = float;
  static const T* values(const BsrView& a) { return a.values; }
  static float32x4_t load(const BsrView& a, std::ptrdiff_t k, int q) { return vld1q_f32(a.values + k * 16 + q * 4); }
  static float32x4x4_t block(const T* p) { return vld1q_f32_x4(p); }
};
struct F16 {
  using T = uint16_t;
  static const T* values(const BsrView& a) { return a.values_f16; }
  static float32x4_t load(const BsrView& a, std::ptrdiff_t k, int q) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a.values_f16 + k * 16 + q * 4)));
  }
  static float32x4x4_t block(const T* p) {
    const uint16x8x2_t h = vld1q_u16_x2(p);
    const float16x8_t h0 = vreinterpretq_f16_u16(h.val[0]), h1 = vreinterpretq_f16_u16(h.val[1]);
    return {{vcvt_f32_f16(vget_low_f16(h0)), vcvt_high_f32_f16(h0), vcvt_f32_f16(vget_low_f16(h1)),
             vcvt_high_f32_f16(h1)}};
  }
};

// What differs between the two block shapes. A block's 16 weights are four
// q-registers: the rows of a 4x4 block (each lane a partial over one of its
// columns, so x[c..c+4) meets every row), or rows 4q..4q+4 of a 16x1 block
// (one x value meets all of them).
struct Shape4x4 {
  static constexpr int rows = 4;
  using X = float32x4_t;
  static X x(const float* p) { return vld1q_f32(p); }
  static float32x4_t fma(float32x4_t acc, float32x4_t w, X x) { return vfmaq_f32(acc, w, x); }
  // One pairwise reduction per block row.
  static void store(float* yr, const float32x4_t* acc, bool accumulate) {
    float32x4_t sum = vpaddq_f32(vpaddq_f32(acc[0], acc[1]), vpaddq_f32(acc[2], acc[3]));
    if (accumulate) sum = vaddq_f32(sum, vld1q_f32(yr));
    vst1q_f32(yr, sum);
  }
};
struct Shape16x1 {
  static constexpr int rows = 16;
  using X = float;
  static X x(const float* p) { return *p; }
  static float32x4_t fma(float32x4_t acc, float32x4_t w, X x) { return vfmaq_n_f32(acc, w, x); }
  static void store(float* yr, const float32x4_t* acc, bool accumulate) {
    for (int q = 0; q < 4; ++q) {
      float32x4_t s = acc[q];
      if (accumulate) s = vaddq_f32(s, vld1q_f32(yr + 4 * q));
      vst1q_f32(yr + 4 * q, s);
    }
  }
};

// Batched product over 4-column chunks, GROUP block rows' worth of
// accumulators at a time; remaining columns go to the generic kernel.
template <int BR, int BC, int GROUP>
void spmm_chunked(const BsrView& a, const float* x, std::ptrdiff_t ldx,
                  float* y, std::ptrdiff_t ldy, int n, int rb_begin,
                  int rb_end, bool accumulate) {
  int j0 = 0;
  for (; j0 + 4 <= n; j0 += 4) {
    for (int rb = rb_begin; rb < rb_end; ++rb) {
      for (int g = 0; g < BR; g += GROUP) {
        float* yg = y + (static_cast<std::ptrdiff_t>(rb) * BR + g) * ldy + j0;
        float32x4_t acc[GROUP];
        for (int r = 0; r < GROUP; ++r)
          acc[r] = accumulate ? vld1q_f32(yg + r * ldy) : vdupq_n_f32(0.f);
        for (int32_t k = a.row_ptr[rb], end = a.row_ptr[rb + 1]; k < end; ++k) {
          const float* blk = a.values + static_cast<std::ptrdiff_t>(k) * BR * BC + g * BC;
          const float* xc = x + a.col_start[k] * ldx + j0;
          for (int c = 0; c < BC; ++c) {
            const float32x4_t xv = vld1q_f32(xc + c * ldx);
            for (int r = 0; r < GROUP; ++r)
              acc[r] = vfmaq_n_f32(acc[r], xv, blk[r * BC + c]);
          }
        }
        for (int r = 0; r < GROUP; ++r) vst1q_f32(yg + r * ldy, acc[r]);
      }
    }
  }
  if (j0 < n)
    generic_spmm(a, x + j0, ldx, y + j0, ldy, n - j0, rb_begin, rb_end, accumulate);
}

// Up to 4 vectors per pass: each block is loaded once and used NV times.
template <class W, class Shape>
struct Many {
  template <int NV>
  struct Group {
    static void run(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                    int rb_begin, int rb_end, bool accumulate) {
      for (int rb = rb_begin; rb < rb_end; ++rb) {
        float32x4_t acc[NV][4];
        for (int v = 0; v < NV; ++v)
          for (int q = 0; q < 4; ++q) acc[v][q] = vdupq_n_f32(0.f);
        for (int32_t k = a.row_ptr[rb], end = a.row_ptr[rb + 1]; k < end; ++k) {
          const float32x4_t w0 = W::load(a, k, 0), w1 = W::load(a, k, 1), w2 = W::load(a, k, 2), w3 = W::load(a, k, 3);
          const float* xc = x + a.col_start[k];
          for (int v = 0; v < NV; ++v) {
            const typename Shape::X xv = Shape::x(xc + v * ldx);
            acc[v][0] = Shape::fma(acc[v][0], w0, xv);
            acc[v][1] = Shape::fma(acc[v][1], w1, xv);
            acc[v][2] = Shape::fma(acc[v][2], w2, xv);
            acc[v][3] = Shape::fma(acc[v][3], w3, xv);
          }
        }
        for (int v = 0; v < NV; ++v)
          Shape::store(y + v * ldy + static_cast<std::ptrdiff_t>(rb) * Shape::rows, acc[v], accumulate);
      }
    }
  };
};

// The single-vector product: blocks alternate between two sets of four
// accumulators, so consecutive blocks do not wait on FMA latency (one set
// chains one FMA per block: latency-bound at twice the throughput cost);
// the sets are added, and summed horizontally (4x4), once per block row.
// One index stream and one weight pointer advance across all rows (the view
// is a local copy, so the stores to y do not make anything reload). A step
// takes four blocks, each one ld1 (float32), one x load and four FMAs, so
// the loop and pointer instructions are shared by four blocks: 16x1 went
// from 12.6 to 9.6 instructions per block (floor 4) under qemu's count.
template <class W, class Shape>
void spmv(const BsrView& view, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  const BsrView a = view;
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const typename W::T* w = W::values(a) + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * 16;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t* const end = a.col_start + a.row_ptr[rb + 1];
    float32x4_t even[4], odd[4];
    for (int q = 0; q < 4; ++q) even[q] = odd[q] = vdupq_n_f32(0.f);
    auto block = [&](float32x4_t* acc, int32_t c) {  // the next block, at w
      const float32x4x4_t b = W::block(w);
      w += 16;
      const typename Shape::X xv = Shape::x(x + c);
      for (int q = 0; q < 4; ++q) acc[q] = Shape::fma(acc[q], b.val[q], xv);
    };
    for (; end - col >= 4; col += 4) {
      block(even, col[0]);
      block(odd, col[1]);
      block(even, col[2]);
      block(odd, col[3]);
    }
    if (end - col >= 2) {
      block(even, col[0]);
      block(odd, col[1]);
      col += 2;
    }
    if (col != end) block(even, *col++);
    for (int q = 0; q < 4; ++q) even[q] = vaddq_f32(even[q], odd[q]);
    Shape::store(y + static_cast<std::ptrdiff_t>(rb) * Shape::rows, even, accumulate);
  }
}

}  // namespace

const KernelTable& neon_kernels() {
  static const KernelTable table = [] {
    KernelTable t = generic_kernels();  // 1x1 stays generic
    t.name = "neon";
    t.shape_4x4.spmv = spmv<F32, Shape4x4>;
    t.shape_4x4.spmv_many = spmv_many<Many<F32, Shape4x4>>;
    t.shape_4x4.spmm = spmm_chunked<4, 4, 4>;
    t.shape_4x4.spmv_f16 = spmv<F16, Shape4x4>;
    t.shape_4x4.spmv_many_f16 = spmv_many<Many<F16, Shape4x4>>;
    t.shape_16x1.spmv = spmv<F32, Shape16x1>;
    t.shape_16x1.spmv_many = spmv_many<Many<F32, Shape16x1>>;
    t.shape_16x1.spmm = spmm_chunked<16, 1, 16>;
    t.shape_16x1.spmv_f16 = spmv<F16, Shape16x1>;
    t.shape_16x1.spmv_many_f16 = spmv_many<Many<F16, Shape16x1>>;
    add_neon_1x4_kernels(t);
    t.elementwise = neon_elementwise();
    add_neon_int8_kernels(t);
    return t;
  }();
  return table;
}

// The same table with the sdot int8 kernels (dispatch.cpp picks it only when
// HWCAP reports the dot-product instructions).
const KernelTable& neon_dotprod_kernels() {
  static const KernelTable table = [] {
    KernelTable t = neon_kernels();
    t.name = "neon_dotprod";
    add_neon_dotprod_int8_kernels(t);
    return t;
  }();
  return table;
}

}  // namespace sparsewave
