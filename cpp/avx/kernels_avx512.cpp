// AVX-512F kernels (compiled with -mavx512f; only called after CPUID and
// XGETBV say the CPU and OS support it). A whole 4x4 block or 16x1 block is
// one 16-lane register, so each stored block costs one FMA.
#include <immintrin.h>

#include "avx/int8_avx2.h"
#include "avx/row4_avx2.h"
#include "kernels/spmv_many_groups.h"
#include "kernels/table.h"

namespace sparsewave {
namespace {

// [r0 x4 | r1 x4 | r2 x4 | r3 x4] -> [row0 row1 row2 row3].
inline __m128 reduce_4x4_rows(__m512 acc) {
  const __m256 r01 = _mm512_castps512_ps256(acc);
  const __m256 r23 = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
  __m256 h = _mm256_hadd_ps(r01, r23);
  h = _mm256_hadd_ps(h, h);
  return _mm_unpacklo_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Where block k's 16 weights come from: float32, or float16 widened on load
// (half the bytes: the products are bound by cache bandwidth).
struct F32 {
  static __m512 load(const BsrView& a, std::ptrdiff_t k) { return _mm512_loadu_ps(a.values + k * 16); }
};
struct F16 {
  static __m512 load(const BsrView& a, std::ptrdiff_t k) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.values_f16 + k * 16)));
  }
};

inline __m512 x4(const float* x) { return _mm512_broadcast_f32x4(_mm_loadu_ps(x)); }

// What differs between the two block shapes: how x meets a block's 16
// lanes, and how summed lanes become a block row's outputs.
struct Shape4x4 {
  static constexpr int rows = 4;
  static __m512 x(const float* p) { return x4(p); }
  static void store(float* yr, __m512 acc, bool accumulate) {
    __m128 sum = reduce_4x4_rows(acc);
    if (accumulate) sum = _mm_add_ps(sum, _mm_loadu_ps(yr));
    _mm_storeu_ps(yr, sum);
  }
};
struct Shape16x1 {
  static constexpr int rows = 16;
  static __m512 x(const float* p) { return _mm512_set1_ps(*p); }
  static void store(float* yr, __m512 acc, bool accumulate) {
    if (accumulate) acc = _mm512_add_ps(acc, _mm512_loadu_ps(yr));
    _mm512_storeu_ps(yr, acc);
  }
};

// Block row rb's products summed over its blocks: lanes [r0 x4 | r1 x4 | r2 x4
// | r3 x4], each a partial over one of the block's columns. Four accumulators
// so consecutive blocks do not wait on FMA latency.
template <class W>
inline __m512 block_row_4x4(const BsrView& a, const float* x, int rb) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  int32_t k = a.row_ptr[rb];
  const int32_t end = a.row_ptr[rb + 1];
  for (; k + 3 < end; k += 4) {
    acc0 = _mm512_fmadd_ps(W::load(a, k), x4(x + a.col_start[k]), acc0);
    acc1 = _mm512_fmadd_ps(W::load(a, k + 1), x4(x + a.col_start[k + 1]), acc1);
    acc2 = _mm512_fmadd_ps(W::load(a, k + 2), x4(x + a.col_start[k + 2]), acc2);
    acc3 = _mm512_fmadd_ps(W::load(a, k + 3), x4(x + a.col_start[k + 3]), acc3);
  }
  if (k < end) acc0 = _mm512_fmadd_ps(W::load(a, k), x4(x + a.col_start[k]), acc0);
  if (k + 1 < end) acc1 = _mm512_fmadd_ps(W::load(a, k + 1), x4(x + a.col_start[k + 1]), acc1);
  if (k + 2 < end) acc2 = _mm512_fmadd_ps(W::load(a, k + 2), x4(x + a.col_start[k + 2]), acc2);
  return _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
}

template <class W>
void spmv_4x4(const BsrView& a, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  int rb = rb_begin;
  // Four block rows at a time share one horizontal reduction: a 4x4
  // transpose-and-add of the four partial-sum registers, then one store of
  // 16 outputs (short block rows at high sparsity are dominated by this).
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (; rb + 4 <= rb_end; rb += 4) {
    const __m512 s0 = block_row_4x4<W>(a, x, rb), s1 = block_row_4x4<W>(a, x, rb + 1);
    const __m512 s2 = block_row_4x4<W>(a, x, rb + 2), s3 = block_row_4x4<W>(a, x, rb + 3);
    // Per 128-bit lane (one row r of each block row): s0 = [a0 a1 a2 a3] ...
    const __m512 u = _mm512_add_ps(_mm512_unpacklo_ps(s0, s1), _mm512_unpackhi_ps(s0, s1));  // a02 b02 a13 b13
    const __m512 v = _mm512_add_ps(_mm512_unpacklo_ps(s2, s3), _mm512_unpackhi_ps(s2, s3));  // c02 d02 c13 d13
    const __m512 w = _mm512_add_ps(_mm512_shuffle_ps(u, v, 0x44), _mm512_shuffle_ps(u, v, 0xEE));  // a b c d
    __m512 out = _mm512_permutexvar_ps(order, w);  // lane-major -> block-row-major
    float* yr = y + static_cast<std::ptrdiff_t>(rb) * 4;
    if (accumulate) out = _mm512_add_ps(out, _mm512_loadu_ps(yr));
    _mm512_storeu_ps(yr, out);
  }
  for (; rb < rb_end; ++rb) Shape4x4::store(y + static_cast<std::ptrdiff_t>(rb) * 4, block_row_4x4<W>(a, x, rb), accumulate);
}

template <class W>
void spmv_16x1(const BsrView& a, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int32_t k = a.row_ptr[rb];
    const int32_t end = a.row_ptr[rb + 1];
    for (; k + 3 < end; k += 4) {
      acc0 = _mm512_fmadd_ps(W::load(a, k), _mm512_set1_ps(x[a.col_start[k]]), acc0);
      acc1 = _mm512_fmadd_ps(W::load(a, k + 1), _mm512_set1_ps(x[a.col_start[k + 1]]), acc1);
      acc2 = _mm512_fmadd_ps(W::load(a, k + 2), _mm512_set1_ps(x[a.col_start[k + 2]]), acc2);
      acc3 = _mm512_fmadd_ps(W::load(a, k + 3), _mm512_set1_ps(x[a.col_start[k + 3]]), acc3);
    }
    for (; k < end; ++k) acc0 = _mm512_fmadd_ps(W::load(a, k), _mm512_set1_ps(x[a.col_start[k]]), acc0);
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
    Shape16x1::store(y + static_cast<std::ptrdiff_t>(rb) * 16, sum, accumulate);
  }
}

// Batched product over 16-column chunks; the last partial chunk is masked.
template <int BR, int BC, int GROUP>
void spmm_chunked(const BsrView& a, const float* x, std::ptrdiff_t ldx,
                  float* y, std::ptrdiff_t ldy, int n, int rb_begin,
                  int rb_end, bool accumulate) {
  for (int j0 = 0; j0 < n; j0 += 16) {
    const int width = n - j0 < 16 ? n - j0 : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << width) - 1u);
    for (int rb = rb_begin; rb < rb_end; ++rb) {
      for (int g = 0; g < BR; g += GROUP) {
        float* yg = y + (static_cast<std::ptrdiff_t>(rb) * BR + g) * ldy + j0;
        __m512 acc[GROUP];
        for (int r = 0; r < GROUP; ++r)
          acc[r] = accumulate ? _mm512_maskz_loadu_ps(m, yg + r * ldy) : _mm512_setzero_ps();
        for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
          const float* blk = a.values + static_cast<std::ptrdiff_t>(k) * BR * BC + g * BC;
          const float* xc = x + a.col_start[k] * ldx + j0;
          for (int c = 0; c < BC; ++c) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, xc + c * ldx);
            for (int r = 0; r < GROUP; ++r)
              acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(blk[r * BC + c]), xv, acc[r]);
          }
        }
        for (int r = 0; r < GROUP; ++r) _mm512_mask_storeu_ps(yg + r * ldy, m, acc[r]);
      }
    }
  }
}

// Up to 4 vectors per pass: each block is loaded once and used NV times.
template <class W, class Shape>
struct Many {
  template <int NV>
  struct Group {
    static void run(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                    int rb_begin, int rb_end, bool accumulate) {
      for (int rb = rb_begin; rb < rb_end; ++rb) {
        __m512 acc[NV];
        for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
        for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
          const __m512 w = W::load(a, k);
          const float* xc = x + a.col_start[k];
          for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(w, Shape::x(xc + v * ldx), acc[v]);
        }
        for (int v = 0; v < NV; ++v)
          Shape::store(y + v * ldy + static_cast<std::ptrdiff_t>(rb) * Shape::rows, acc[v], accumulate);
      }
    }
  };
};

}  // namespace

const KernelTable& avx512_kernels() {
  static const KernelTable table = [] {
    KernelTable t = generic_kernels();  // 1x1 stays generic
    t.name = "avx512";
    t.shape_4x4.spmv = spmv_4x4<F32>;
    t.shape_4x4.spmv_many = spmv_many<Many<F32, Shape4x4>>;
    t.shape_4x4.spmm = spmm_chunked<4, 4, 4>;
    t.shape_4x4.spmv_f16 = spmv_4x4<F16>;
    t.shape_4x4.spmv_many_f16 = spmv_many<Many<F16, Shape4x4>>;
    t.shape_16x1.spmv = spmv_16x1<F32>;
    t.shape_16x1.spmv_many = spmv_many<Many<F32, Shape16x1>>;
    t.shape_16x1.spmm = spmm_chunked<16, 1, 16>;
    t.shape_16x1.spmv_f16 = spmv_16x1<F16>;
    t.shape_16x1.spmv_many_f16 = spmv_many<Many<F16, Shape16x1>>;
    add_avx2_1x4_kernels(t);  // the avx512 path requires AVX2 too (dispatch.cpp): 8 lanes suit 1x4 pairs
    t.elementwise = avx512_elementwise();
    add_avx2_int8_kernels(t);
    add_avx2_int8_many_kernels(t);
    add_avx2_int8a16_kernels(t);
    return t;
  }();
  return table;
}

}  // namespace sparsewave
