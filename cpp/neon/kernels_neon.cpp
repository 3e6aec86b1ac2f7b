// NEON kernels for aarch64 (Advanced SIMD, including the float16 -> float32
// conversion, is part of the baseline, so no run-time check is needed).
// Blocks are row-major; a 4x4 block is four q-registers.
#include <arm_neon.h>

#include "../kernels.h"
#include "../spmv_many_groups.h"

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

template <class W>
void spmv_4x4(const BsrView& a, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    // One accumulator per block row; the horizontal sum happens once per row.
    float32x4_t acc0 = vdupq_n_f32(0.f), acc1 = vdupq_n_f32(0.f);
    float32x4_t acc2 = vdupq_n_f32(0.f), acc3 = vdupq_n_f32(0.f);
    for (int32_t k = a.row_ptr[rb], end = a.row_ptr[rb + 1]; k < end; ++k) {
      const float32x4_t xv = vld1q_f32(x + a.col_start[k]);
      acc0 = vfmaq_f32(acc0, W::load(a, k, 0), xv);
      acc1 = vfmaq_f32(acc1, W::load(a, k, 1), xv);
      acc2 = vfmaq_f32(acc2, W::load(a, k, 2), xv);
      acc3 = vfmaq_f32(acc3, W::load(a, k, 3), xv);
    }
    float32x4_t sum = vpaddq_f32(vpaddq_f32(acc0, acc1), vpaddq_f32(acc2, acc3));
    float* yr = y + static_cast<std::ptrdiff_t>(rb) * 4;
    if (accumulate) sum = vaddq_f32(sum, vld1q_f32(yr));
    vst1q_f32(yr, sum);
  }
}

template <class W>
void spmv_16x1(const BsrView& a, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    float32x4_t acc0 = vdupq_n_f32(0.f), acc1 = vdupq_n_f32(0.f);
    float32x4_t acc2 = vdupq_n_f32(0.f), acc3 = vdupq_n_f32(0.f);
    for (int32_t k = a.row_ptr[rb], end = a.row_ptr[rb + 1]; k < end; ++k) {
      const float xs = x[a.col_start[k]];
      acc0 = vfmaq_n_f32(acc0, W::load(a, k, 0), xs);
      acc1 = vfmaq_n_f32(acc1, W::load(a, k, 1), xs);
      acc2 = vfmaq_n_f32(acc2, W::load(a, k, 2), xs);
      acc3 = vfmaq_n_f32(acc3, W::load(a, k, 3), xs);
    }
    float* yr = y + static_cast<std::ptrdiff_t>(rb) * 16;
    if (accumulate) {
      acc0 = vaddq_f32(acc0, vld1q_f32(yr));
      acc1 = vaddq_f32(acc1, vld1q_f32(yr + 4));
      acc2 = vaddq_f32(acc2, vld1q_f32(yr + 8));
      acc3 = vaddq_f32(acc3, vld1q_f32(yr + 12));
    }
    vst1q_f32(yr, acc0);
    vst1q_f32(yr + 4, acc1);
    vst1q_f32(yr + 8, acc2);
    vst1q_f32(yr + 12, acc3);
  }
}

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

void spmm_4x4(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y,
              std::ptrdiff_t ldy, int n, int rb_begin, int rb_end, bool accumulate) {
  spmm_chunked<4, 4, 4>(a, x, ldx, y, ldy, n, rb_begin, rb_end, accumulate);
}

void spmm_16x1(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y,
               std::ptrdiff_t ldy, int n, int rb_begin, int rb_end, bool accumulate) {
  spmm_chunked<16, 1, 16>(a, x, ldx, y, ldy, n, rb_begin, rb_end, accumulate);
}

// Up to 4 vectors per pass: each block is loaded once and used NV times.
template <class W>
struct Many4x4 {
  template <int NV>
  struct Group {
    static void run(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                    int rb_begin, int rb_end, bool accumulate) {
      for (int rb = rb_begin; rb < rb_end; ++rb) {
        float32x4_t acc[NV][4];
        for (int v = 0; v < NV; ++v)
          for (int r = 0; r < 4; ++r) acc[v][r] = vdupq_n_f32(0.f);
        for (int32_t k = a.row_ptr[rb], end = a.row_ptr[rb + 1]; k < end; ++k) {
          const float32x4_t w0 = W::load(a, k, 0), w1 = W::load(a, k, 1), w2 = W::load(a, k, 2), w3 = W::load(a, k, 3);
          const float* xc = x + a.col_start[k];
          for (int v = 0; v < NV; ++v) {
            const float32x4_t xv = vld1q_f32(xc + v * ldx);
            acc[v][0] = vfmaq_f32(acc[v][0], w0, xv);
            acc[v][1] = vfmaq_f32(acc[v][1], w1, xv);
            acc[v][2] = vfmaq_f32(acc[v][2], w2, xv);
            acc[v][3] = vfmaq_f32(acc[v][3], w3, xv);
          }
        }
        for (int v = 0; v < NV; ++v) {
          float* yr = y + v * ldy + static_cast<std::ptrdiff_t>(rb) * 4;
          float32x4_t sum = vpaddq_f32(vpaddq_f32(acc[v][0], acc[v][1]), vpaddq_f32(acc[v][2], acc[v][3]));
          if (accumulate) sum = vaddq_f32(sum, vld1q_f32(yr));
          vst1q_f32(yr, sum);
        }
      }
    }
  };
};

template <class W>
struct Many16x1 {
  template <int NV>
  struct Group {
    static void run(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                    int rb_begin, int rb_end, bool accumulate) {
      for (int rb = rb_begin; rb < rb_end; ++rb) {
        float32x4_t acc[NV][4];
        for (int v = 0; v < NV; ++v)
          for (int r = 0; r < 4; ++r) acc[v][r] = vdupq_n_f32(0.f);
        for (int32_t k = a.row_ptr[rb], end = a.row_ptr[rb + 1]; k < end; ++k) {
          const float32x4_t w0 = W::load(a, k, 0), w1 = W::load(a, k, 1), w2 = W::load(a, k, 2), w3 = W::load(a, k, 3);
          const float* xc = x + a.col_start[k];
          for (int v = 0; v < NV; ++v) {
            const float xs = xc[v * ldx];
            acc[v][0] = vfmaq_n_f32(acc[v][0], w0, xs);
            acc[v][1] = vfmaq_n_f32(acc[v][1], w1, xs);
            acc[v][2] = vfmaq_n_f32(acc[v][2], w2, xs);
            acc[v][3] = vfmaq_n_f32(acc[v][3], w3, xs);
          }
        }
        for (int v = 0; v < NV; ++v) {
          float* yr = y + v * ldy + static_cast<std::ptrdiff_t>(rb) * 16;
          for (int r = 0; r < 4; ++r) {
            float32x4_t s = acc[v][r];
            if (accumulate) s = vaddq_f32(s, vld1q_f32(yr + 4 * r));
            vst1q_f32(yr + 4 * r, s);
          }
        }
      }
    }
  };
};

template <class Shape>
void spmv_many(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
               int rb_begin, int rb_end, bool accumulate) {
  spmv_many_groups<Shape::template Group>(a, x, ldx, y, ldy, nvec, rb_begin, rb_end, accumulate);
}

}  // namespace

const KernelTable& neon_kernels() {
  static const KernelTable table = {
      "neon",
      spmv_4x4<F32>, spmv_16x1<F32>, generic_spmv,
      spmm_4x4, spmm_16x1, generic_spmm,
      spmv_many<Many4x4<F32>>, spmv_many<Many16x1<F32>>, generic_spmv_many,
      {spmv_4x4<F16>, spmv_16x1<F16>, generic_spmv_f16,
       spmv_many<Many4x4<F16>>, spmv_many<Many16x1<F16>>, generic_spmv_many_f16},
      neon_elementwise(),
  };
  return table;
}

}  // namespace sparsewave
