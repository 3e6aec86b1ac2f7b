// 1x4 blocks on AVX2 + FMA (+ F16C): one row, four consecutive columns per
// block, the pattern of models pruned in column groups of four (geneing's
// WaveRNN). 4x4 blocks would store such a matrix with 2-3x its nonzeros;
// these store exactly them.
//
// A row's blocks are taken two at a time: their eight weights are one load,
// and the two x quads (each at its own column) fill the two halves of one
// register, so one FMA does both blocks. Eight rows' accumulators are then
// reduced together (a tree of hadds and one cross-lane add), so the
// horizontal sums cost about one instruction per row instead of five.
#include <immintrin.h>

#include "avx/row4_avx2.h"
#include "kernels/spmv_many_groups.h"

namespace sparsewave {
namespace {

// Weights i .. i + 8 (or i .. i + 4) of the block storage as float32, or
// float16 widened on load.
struct F32 {
  static __m256 load8(const BsrView& a, std::ptrdiff_t i) { return _mm256_loadu_ps(a.values + i); }
  static __m128 load4(const BsrView& a, std::ptrdiff_t i) { return _mm_loadu_ps(a.values + i); }
};
struct F16 {
  static __m256 load8(const BsrView& a, std::ptrdiff_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.values_f16 + i)));
  }
  static __m128 load4(const BsrView& a, std::ptrdiff_t i) {
    return _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a.values_f16 + i)));
  }
};

// x[c0 .. c0 + 4) in the low half, x[c1 .. c1 + 4) in the high half.
inline __m256 two_quads(const float* x, int32_t c0, int32_t c1) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(x + c0)), _mm_loadu_ps(x + c1), 1);
}

// The blocks [k, end) of one row, as an 8-lane partial sum; k ends at `end`.
// Two accumulators, so consecutive block pairs do not wait on FMA latency.
template <class W>
inline __m256 row_sum(const BsrView& a, const float* x, int32_t& k, int32_t end) {
  const int32_t* col = a.col_start;
  __m256 acc_a = _mm256_setzero_ps(), acc_b = _mm256_setzero_ps();
  for (; k + 4 <= end; k += 4) {
    acc_a = _mm256_fmadd_ps(W::load8(a, std::ptrdiff_t{k} * 4), two_quads(x, col[k], col[k + 1]), acc_a);
    acc_b = _mm256_fmadd_ps(W::load8(a, std::ptrdiff_t{k} * 4 + 8), two_quads(x, col[k + 2], col[k + 3]), acc_b);
  }
  if (k + 2 <= end) {
    acc_a = _mm256_fmadd_ps(W::load8(a, std::ptrdiff_t{k} * 4), two_quads(x, col[k], col[k + 1]), acc_a);
    k += 2;
  }
  if (k < end) {
    const __m128 last = _mm_mul_ps(W::load4(a, std::ptrdiff_t{k} * 4), _mm_loadu_ps(x + col[k]));
    acc_b = _mm256_add_ps(acc_b, _mm256_insertf128_ps(_mm256_setzero_ps(), last, 0));
    ++k;
  }
  return _mm256_add_ps(acc_a, acc_b);
}

template <class W>
void spmv_1x4(const BsrView& view, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  const BsrView a = view;  // a local copy: stores to y cannot change it
  int rb = rb_begin;
  int32_t k = a.row_ptr[rb];
  for (; rb + 8 <= rb_end; rb += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = row_sum<W>(a, x, k, a.row_ptr[rb + i + 1]);
    // hadd(hadd(r0, r1), hadd(r2, r3)) holds rows 0-3's low-half sums in its
    // low lanes and their high-half sums in its high lanes; likewise 4-7.
    const __m256 s03 = _mm256_hadd_ps(_mm256_hadd_ps(r[0], r[1]), _mm256_hadd_ps(r[2], r[3]));
    const __m256 s47 = _mm256_hadd_ps(_mm256_hadd_ps(r[4], r[5]), _mm256_hadd_ps(r[6], r[7]));
    __m256 out = _mm256_add_ps(_mm256_permute2f128_ps(s03, s47, 0x20), _mm256_permute2f128_ps(s03, s47, 0x31));
    float* yr = y + rb;
    if (accumulate) out = _mm256_add_ps(out, _mm256_loadu_ps(yr));
    _mm256_storeu_ps(yr, out);
  }
  for (; rb < rb_end; ++rb) {
    const __m256 s = row_sum<W>(a, x, k, a.row_ptr[rb + 1]);
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_hadd_ps(q, q);
    q = _mm_hadd_ps(q, q);
    const float v = _mm_cvtss_f32(q);
    y[rb] = accumulate ? y[rb] + v : v;
  }
}

}  // namespace

void add_avx2_1x4_kernels(KernelTable& t) {
  t.shape_1x4.spmv = spmv_1x4<F32>;
  t.shape_1x4.spmv_many = spmv_each<spmv_1x4<F32>>;
  t.shape_1x4.spmv_f16 = spmv_1x4<F16>;
  t.shape_1x4.spmv_many_f16 = spmv_each<spmv_1x4<F16>>;
}

}  // namespace sparsewave
