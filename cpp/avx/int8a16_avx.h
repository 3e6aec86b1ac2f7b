// int8 weights times 16-bit inputs (kernels/table.h SpmvI8A16Fn), one
// vector and many, written once over Wide, the 16-bit multiply-add:
// Wide::dp(acc, w, x) adds to each int32 lane w[2i] x[2i] + w[2i+1] x[2i+1]
// (AVX2: vpmaddwd then vpaddd, int8a16_avx2.cpp; VNNI: one vpdpwssd,
// int8_vnni.h). Include only from files compiled with -mavx2; anonymous
// namespace, one copy per file.
//
// vpmovsxbw widens a block's weight bytes to int16 and the multiply-add
// takes x's int16 values, pairs into int32: each pair is at most
// 2 * 127 * 16383, and the matrix's input_qmax keeps every row's whole sum
// within int32, so the results are exact and equal the generic reference
// bit for bit. Per 4 rows x 4 columns: one widening load and the
// multiply-add (the weight bytes are the same as int8's; only x is twice as
// wide, and x is read once per block).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "avx/int8_avx2_ops.h"
#include "kernels/table.h"

namespace sparsewave {
namespace {

// x[c..c+3] (four int16) in every 64-bit lane.
inline __m256i broadcast4_i16(const int16_t* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return _mm256_set1_epi64x(v);
}

// Four rows of four weights (16 bytes), widened to int16: lanes hold row 0's
// columns 0-1 and 2-3, then row 1's, and so on, as x's four values repeat.
inline __m256i widen4x4(const int8_t* w) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
}

// Lanes (r0a r0b r1a r1b | r2a r2b r3a r3b) -> the four row sums r0..r3.
inline __m128i row_sums4(__m256i acc) {
  return _mm_hadd_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
}

// 8x4 blocks: rows 0-3 in the first 16 bytes, rows 4-7 in the next, two
// accumulators (one per half) that the end of the block row folds. Two
// blocks a step: with one, the loop's own counting cost about a third more.
template <class Wide>
void spmv_i8a16_8x4(const BsrView& view, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                    bool accumulate) {
  const BsrView a = view;
  const __m128 xs = _mm_set1_ps(x_scale);
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * 32;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb];
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    auto block = [&](int i) {
      const __m256i x = broadcast4_i16(xq + col[i]);
      lo = Wide::dp(lo, widen4x4(w + 32 * i), x);
      hi = Wide::dp(hi, widen4x4(w + 32 * i + 16), x);
    };
    for (; n >= 2; n -= 2, col += 2, w += 64) {
      block(0);
      block(1);
    }
    if (n > 0) {
      block(0);
      ++col;
      w += 32;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    store4(y + r0, a.row_scale + r0, row_sums4(lo), xs, accumulate);
    store4(y + r0 + 4, a.row_scale + r0 + 4, row_sums4(hi), xs, accumulate);
  }
}

// 4x4 blocks: two accumulators, alternate blocks, so the adds do not wait
// on each other.
template <class Wide>
void spmv_i8a16_4x4(const BsrView& view, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                    bool accumulate) {
  const BsrView a = view;
  const __m128 xs = _mm_set1_ps(x_scale);
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * 16;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb];
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (; n >= 2; n -= 2, col += 2, w += 32) {
      acc0 = Wide::dp(acc0, widen4x4(w), broadcast4_i16(xq + col[0]));
      acc1 = Wide::dp(acc1, widen4x4(w + 16), broadcast4_i16(xq + col[1]));
    }
    if (n > 0) {
      acc0 = Wide::dp(acc0, widen4x4(w), broadcast4_i16(xq + col[0]));
      ++col;
      w += 16;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    store4(y + r0, a.row_scale + r0, row_sums4(_mm256_add_epi32(acc0, acc1)), xs, accumulate);
  }
}

// --- many vectors in one pass over the weights (SpmvManyI8A16Fn) ------------
// Each block's bytes are widened once for all vectors; per vector a block
// costs the x broadcast and the multiply-adds. 8x4: two accumulators per
// vector, so four vectors a pass fit the 16 registers; 4x4: one, eight.

template <class Wide, int BR, int NV>
void group_i8a16(const BsrView& a, const int16_t* xq, std::ptrdiff_t ldq, const float* x_scale, float* y,
                 std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  constexpr int H = BR / 4;  // 4-row halves per block
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const int8_t* w = a.values_i8 + static_cast<std::ptrdiff_t>(a.row_ptr[rb_begin]) * BR * 4;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    __m256i acc[NV][H];
    for (auto& v : acc)
      for (auto& h : v) h = _mm256_setzero_si256();
    for (int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb]; n > 0; --n, ++col, w += BR * 4) {
      __m256i wide[H];
      for (int h = 0; h < H; ++h)
        wide[h] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16 * h)));
      const int16_t* xc = xq + *col;
      for (int v = 0; v < NV; ++v) {
        const __m256i x = broadcast4_i16(xc + v * ldq);
        for (int h = 0; h < H; ++h) acc[v][h] = Wide::dp(acc[v][h], wide[h], x);
      }
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * BR;
    for (int v = 0; v < NV; ++v)
      for (int h = 0; h < H; ++h)
        store4(y + v * ldy + r0 + 4 * h, a.row_scale + r0 + 4 * h, row_sums4(acc[v][h]), _mm_set1_ps(x_scale[v]),
               accumulate);
  }
}

template <class Wide, int BR, int NV>
void run_i8a16(const BsrView& a, const int16_t* xq, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
               int nv, int rb_begin, int rb_end, bool accumulate) {
  if constexpr (NV > 1) {
    if (nv < NV) return run_i8a16<Wide, BR, NV - 1>(a, xq, ldq, xs, y, ldy, nv, rb_begin, rb_end, accumulate);
  }
  group_i8a16<Wide, BR, NV>(a, xq, ldq, xs, y, ldy, rb_begin, rb_end, accumulate);
}

template <class Wide, int BR>
void many_i8a16(const BsrView& a, const int16_t* xq, std::ptrdiff_t ldq, const float* xs, float* y,
                std::ptrdiff_t ldy, int nvec, int rb_begin, int rb_end, bool accumulate) {
  constexpr int kGroup = BR == 8 ? 4 : 8;
  for (int v = 0; v < nvec; v += kGroup) {
    const int nv = nvec - v < kGroup ? nvec - v : kGroup;
    run_i8a16<Wide, BR, kGroup>(a, xq + v * ldq, ldq, xs + v, y + v * ldy, ldy, nv, rb_begin, rb_end, accumulate);
  }
}

template <class Wide>
void fill_i8a16_slots(KernelTable& t) {
  t.shape_8x4.spmv_i8a16 = spmv_i8a16_8x4<Wide>;
  t.shape_4x4.spmv_i8a16 = spmv_i8a16_4x4<Wide>;
  t.shape_8x4.spmv_many_i8a16 = many_i8a16<Wide, 8>;
  t.shape_4x4.spmv_many_i8a16 = many_i8a16<Wide, 4>;
}

}  // namespace
}  // namespace sparsewave
