// NEON kernels for aarch64 (Advanced SIMD, including the float16 -> float32
// conversion, is part of the baseline, so no run-time check is needed).
// Blocks are row-major; a 4x4 block is four q-registers.
#include <arm_neon.h>

#include "kernels/spmv_many_groups.h"
#include "kernels/table.h"
#include "neon/int8_neon.h"

namespace sparsewave {
namespace {

// Where the q-th four weights of block k come from: float32, or float16
// widened on load (half the bytes).
struct F32 {
  static float32x4_t load(const BsrView& a, std::ptrdiff_t k, int q) { return vld1q_f32(a.values + k * 16 + q * 4); }
};
struct F16 {
  static float32x4_t load(const BsrView& a, std::ptrdiff_t k, int q) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a.values_f16 + k * 16 + q * 4)));
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
template <class W, class Shape>
void spmv(const BsrView& a, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    float32x4_t even[4], odd[4];
    for (int q = 0; q < 4; ++q) even[q] = odd[q] = vdupq_n_f32(0.f);
    auto block = [&](int32_t k, float32x4_t* acc) {
      const typename Shape::X xv = Shape::x(x + a.col_start[k]);
      for (int q = 0; q < 4; ++q) acc[q] = Shape::fma(acc[q], W::load(a, k, q), xv);
    };
    int32_t k = a.row_ptr[rb];
    const int32_t end = a.row_ptr[rb + 1];
    for (; k + 1 < end; k += 2) {
      block(k, even);
      block(k + 1, odd);
    }
    if (k < end) block(k, even);
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
