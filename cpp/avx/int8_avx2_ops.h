// The byte rules, row stores and max scan shared by the AVX2 int8 kernels
// (int8_avx2.cpp: one vector; int8_many_avx2.cpp: many; int8a16_avx2.cpp:
// 16-bit inputs). Include only from files compiled with -mavx2; anonymous
// namespace, one copy per file.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/bsr_view.h"
#include "kernels/quantize_rule.h"
#include "matrix/aligned_buffer.h"

namespace sparsewave {
namespace {

// The activation rule's max scan (kernels/quantize_rule.h) eight floats at a
// time: m = max |x|, and whether every value is finite.
inline AbsMax abs_max_avx2(const float* x, int n) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 big = _mm256_set1_ps(3.402823466e38f);
  __m256 m8 = _mm256_setzero_ps(), bad8 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + i));
    bad8 = _mm256_or_ps(bad8, _mm256_cmp_ps(v, big, _CMP_NLE_UQ));  // NaN or Inf
    m8 = _mm256_max_ps(m8, v);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, m8);
  AbsMax r;
  for (float v : lanes) r.m = v > r.m ? v : r.m;
  r.finite = _mm256_movemask_ps(bad8) == 0;
  abs_max_tail(x, i, n, r);
  return r;
}

inline int32_t load4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// How x's bytes meet the weights: each rule sums, per int32 lane, the four
// byte products w * x exactly, and turns a row's int32 sums into the true
// ones. Signed: |x| on vpmaddubsw's unsigned side, w given x's sign on the
// signed side. Offset (pair-bounded weights only): xu = xq + 128 as is, and
// 128 * row_sum taken off once per row: int32 wraps, so even a partial sum
// past 2^31 comes back exact once the offset is removed (the true sum fits).
struct SignedBytes {
  static __m256i dot(__m256i w, __m256i x, __m256i ones16) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(w, x)), ones16);
  }
  static __m128i dot(__m128i w, __m128i x, __m128i ones16) {
    return _mm_madd_epi16(_mm_maddubs_epi16(_mm_abs_epi8(x), _mm_sign_epi8(w, x)), ones16);
  }
  // Many vectors per block (int8_many_avx2.cpp): |w| on the unsigned side, computed once
  // per block, and each vector's x given w's sign; the products w * x are the same, and a
  // pair still sums to at most 2 * 127 * 127 (x is never -128).
  static __m256i shared(__m256i w) { return _mm256_abs_epi8(w); }
  static __m256i dot_shared(__m256i abs_w, __m256i w, __m256i x, __m256i ones16) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(x, w)), ones16);
  }
  static __m256i step(__m256i acc, __m256i ws, __m256i w, __m256i x) {
    return _mm256_add_epi32(acc, dot_shared(ws, w, x, _mm256_set1_epi16(1)));
  }
  // (row_sum, from row r0: the offset rule's; may be null here)
  static __m256i finish(__m256i acc, const int32_t*, std::ptrdiff_t) { return acc; }
  static __m128i finish(__m128i acc, const int32_t*, std::ptrdiff_t) { return acc; }
};
struct OffsetBytes {
  static __m256i dot(__m256i w, __m256i xu, __m256i ones16) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(xu, w), ones16);
  }
  static __m128i dot(__m128i w, __m128i xu, __m128i ones16) {
    return _mm_madd_epi16(_mm_maddubs_epi16(xu, w), ones16);
  }
  static __m256i shared(__m256i w) { return w; }
  static __m256i dot_shared(__m256i, __m256i w, __m256i xu, __m256i ones16) { return dot(w, xu, ones16); }
  static __m256i step(__m256i acc, __m256i, __m256i w, __m256i xu) {
    return _mm256_add_epi32(acc, dot(w, xu, _mm256_set1_epi16(1)));
  }
  static __m256i finish(__m256i acc, const int32_t* row_sum, std::ptrdiff_t r0) {
    return _mm256_sub_epi32(acc, _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_sum + r0)), 7));
  }
  static __m128i finish(__m128i acc, const int32_t* row_sum, std::ptrdiff_t r0) {
    return _mm_sub_epi32(acc, _mm_slli_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row_sum + r0)), 7));
  }
};

// The 4x4 many-vector kernels' x layout: per pair of vectors and column quad,
// 32 bytes = the first vector's four bytes in every low lane and the
// second's in every high lane, so a 4x4 block broadcast to both halves meets
// two vectors at once (an odd last vector is paired with itself). Bytes are
// xored with `flip` (0x80 turns int8 codes into xu = xq + 128). Returns
// pairs * quads * 32 bytes in a per-thread buffer; ldp = quads * 32.
inline const int8_t* pair_quads(const int8_t* xq, std::ptrdiff_t ldq, int nvec, int quads, uint8_t flip) {
  const int pairs = (nvec + 1) / 2;
  const std::ptrdiff_t ldp = static_cast<std::ptrdiff_t>(quads) * 32;
  thread_local AlignedVector<int8_t> buf;
  if (buf.size() < static_cast<std::size_t>(pairs * ldp)) buf.resize(static_cast<std::size_t>(pairs * ldp));
  const __m256i f = _mm256_set1_epi8(static_cast<char>(flip));
  for (int p = 0; p < pairs; ++p) {
    const int8_t* lo = xq + 2 * p * ldq;
    const int8_t* hi = 2 * p + 1 < nvec ? lo + ldq : lo;
    for (int q = 0; q < quads; ++q)
      _mm256_store_si256(reinterpret_cast<__m256i*>(buf.data() + p * ldp + q * 32),
                         _mm256_xor_si256(f, _mm256_setr_epi32(load4(lo + 4 * q), load4(lo + 4 * q), load4(lo + 4 * q),
                                                               load4(lo + 4 * q), load4(hi + 4 * q), load4(hi + 4 * q),
                                                               load4(hi + 4 * q), load4(hi + 4 * q))));
  }
  return buf.data();
}

// The pair slots take xu as unsigned bytes; the kernels read the same bits.
template <void (*Kernel)(const BsrView&, const int8_t*, float, float*, int, int, bool)>
void on_xu(const BsrView& a, const uint8_t* xu, float x_scale, float* y, int rb_begin, int rb_end, bool accumulate) {
  Kernel(a, reinterpret_cast<const int8_t*>(xu), x_scale, y, rb_begin, rb_end, accumulate);
}
template <void (*Kernel)(const BsrView&, const int8_t*, std::ptrdiff_t, const float*, float*, std::ptrdiff_t, int,
                         int, int, bool)>
void on_xu_many(const BsrView& a, const uint8_t* xu, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
                int nvec, int rb_begin, int rb_end, bool accumulate) {
  Kernel(a, reinterpret_cast<const int8_t*>(xu), ldq, xs, y, ldy, nvec, rb_begin, rb_end, accumulate);
}

// y (=|+=) acc * (row_scale * x_scale) for 8 rows.
inline void store8(float* y, const float* row_scale, __m256i acc, __m256 x_scale, bool accumulate) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(_mm256_loadu_ps(row_scale), x_scale));
  if (accumulate) v = _mm256_add_ps(_mm256_loadu_ps(y), v);
  _mm256_storeu_ps(y, v);
}
inline void store4(float* y, const float* row_scale, __m128i acc, __m128 x_scale, bool accumulate) {
  __m128 v = _mm_mul_ps(_mm_cvtepi32_ps(acc), _mm_mul_ps(_mm_loadu_ps(row_scale), x_scale));
  if (accumulate) v = _mm_add_ps(_mm_loadu_ps(y), v);
  _mm_storeu_ps(y, v);
}

}  // namespace
}  // namespace sparsewave
