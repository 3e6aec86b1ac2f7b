// 1x4 blocks on NEON: one row, four consecutive columns per block (models
// pruned in column groups of four, like geneing's WaveRNN), so a block is
// one q-register of weights against one q-register of x. Four rows'
// accumulators are reduced together by two pairwise adds.
#include <arm_neon.h>

#include "kernels/spmv_many_groups.h"
#include "neon/row4_neon.h"

namespace sparsewave {
namespace {

// Weights i .. i + 4 of the block storage as float32, or float16 widened on load.
struct F32 {
  static float32x4_t load4(const BsrView& a, std::ptrdiff_t i) { return vld1q_f32(a.values + i); }
};
struct F16 {
  static float32x4_t load4(const BsrView& a, std::ptrdiff_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a.values_f16 + i)));
  }
};

// The blocks [k, end) of one row as a 4-lane partial sum; k ends at `end`.
// Two accumulators, so consecutive blocks do not wait on FMA latency.
template <class W>
inline float32x4_t row_sum(const BsrView& a, const float* x, int32_t& k, int32_t end) {
  const int32_t* col = a.col_start;
  float32x4_t acc_a = vdupq_n_f32(0.0f), acc_b = vdupq_n_f32(0.0f);
  for (; k + 2 <= end; k += 2) {
    acc_a = vfmaq_f32(acc_a, W::load4(a, std::ptrdiff_t{k} * 4), vld1q_f32(x + col[k]));
    acc_b = vfmaq_f32(acc_b, W::load4(a, std::ptrdiff_t{k} * 4 + 4), vld1q_f32(x + col[k + 1]));
  }
  if (k < end) {
    acc_a = vfmaq_f32(acc_a, W::load4(a, std::ptrdiff_t{k} * 4), vld1q_f32(x + col[k]));
    ++k;
  }
  return vaddq_f32(acc_a, acc_b);
}

template <class W>
void spmv_1x4(const BsrView& view, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  const BsrView a = view;  // a local copy: stores to y cannot change it
  int rb = rb_begin;
  int32_t k = a.row_ptr[rb];
  for (; rb + 4 <= rb_end; rb += 4) {
    float32x4_t r[4];
    for (int i = 0; i < 4; ++i) r[i] = row_sum<W>(a, x, k, a.row_ptr[rb + i + 1]);
    float32x4_t out = vpaddq_f32(vpaddq_f32(r[0], r[1]), vpaddq_f32(r[2], r[3]));
    float* yr = y + rb;
    if (accumulate) out = vaddq_f32(out, vld1q_f32(yr));
    vst1q_f32(yr, out);
  }
  for (; rb < rb_end; ++rb) {
    const float v = vaddvq_f32(row_sum<W>(a, x, k, a.row_ptr[rb + 1]));
    y[rb] = accumulate ? y[rb] + v : v;
  }
}

}  // namespace

void add_neon_1x4_kernels(KernelTable& t) {
  t.shape_1x4.spmv = spmv_1x4<F32>;
  t.shape_1x4.spmv_many = spmv_each<spmv_1x4<F32>>;
  t.shape_1x4.spmv_f16 = spmv_1x4<F16>;
  t.shape_1x4.spmv_many_f16 = spmv_each<spmv_1x4<F16>>;
}

}  // namespace sparsewave
