// The many-vector int8 kernels of every x86 byte rule (AVX2's in
// int8_many_avx2.cpp, VNNI's in int8_vnni.h): one pass over the weights
// serves a group of up to kManyGroup vectors, each with its own quantized x
// and scale, and vectors go through in groups, each group's kernel
// instantiated for its exact count. Include only from files compiled with
// -mavx2; anonymous namespace, one copy per file.
#pragma once
#include <cstddef>
#include <cstdint>

#include "avx/int8_avx2_ops.h"
#include "kernels/bsr_view.h"

namespace sparsewave {
namespace {

constexpr int kManyGroup = 8;  // vectors per pass: 8 accumulators + weights + temporaries fit 16 registers

// The group kernels over a byte rule: Rule::shared(w) once per block,
// Rule::step(acc, shared, w, x) per vector (acc + the block's products with
// x's bytes), Rule::finish(acc, row_sum, r0) per row (the true int32 sums).
// 8x4 blocks: the block's 32 bytes (lane r = row r) are loaded once, and each
// vector's four x bytes broadcast to every lane, so lane r sums row r.
template <class Rule, int NV>
void group_8x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* x_scale, float* y,
               std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const __m256i* w = reinterpret_cast<const __m256i*>(a.values_i8) + a.row_ptr[rb_begin];
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    __m256i acc[NV];
    for (auto& v : acc) v = _mm256_setzero_si256();
    for (int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb]; n > 0; --n, ++col, ++w) {
      const __m256i wv = _mm256_loadu_si256(w), ws = Rule::shared(wv);
      const int8_t* xc = xq + *col;
      for (int v = 0; v < NV; ++v) acc[v] = Rule::step(acc[v], ws, wv, _mm256_set1_epi32(load4(xc + v * ldq)));
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    for (int v = 0; v < NV; ++v)
      store8(y + v * ldy + r0, a.row_scale + r0, Rule::finish(acc[v], a.row_sum, r0), _mm256_set1_ps(x_scale[v]),
             accumulate);
  }
}

// 4x4 blocks: 16 bytes, broadcast to both register halves, meet two vectors at
// once: xp holds, per pair of vectors and column quad, 32 bytes = the first
// vector's four x bytes in every low lane and the second's in every high
// lane (built once per product), so each pair costs one load and the rule.
template <class Rule, int NP>
void group_4x4(const BsrView& a, const int8_t* xp, std::ptrdiff_t ldp, int nv, const float* x_scale, float* y,
               std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const __m128i* w = reinterpret_cast<const __m128i*>(a.values_i8) + a.row_ptr[rb_begin];
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    __m256i acc[NP];
    for (auto& v : acc) v = _mm256_setzero_si256();
    for (int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb]; n > 0; --n, ++col, ++w) {
      const __m256i wv = _mm256_broadcastsi128_si256(_mm_loadu_si128(w)), ws = Rule::shared(wv);
      const int8_t* xc = xp + static_cast<std::ptrdiff_t>(*col) * 8;  // (col / 4) * 32
      for (int p = 0; p < NP; ++p)
        acc[p] = Rule::step(acc[p], ws, wv, _mm256_load_si256(reinterpret_cast<const __m256i*>(xc + p * ldp)));
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    for (int p = 0; p < NP; ++p) {
      const int v = 2 * p;
      store4(y + v * ldy + r0, a.row_scale + r0, Rule::finish(_mm256_castsi256_si128(acc[p]), a.row_sum, r0),
             _mm_set1_ps(x_scale[v]), accumulate);
      if (v + 1 < nv)
        store4(y + (v + 1) * ldy + r0, a.row_scale + r0,
               Rule::finish(_mm256_extracti128_si256(acc[p], 1), a.row_sum, r0), _mm_set1_ps(x_scale[v + 1]),
               accumulate);
    }
  }
}


// Vectors in groups of kManyGroup, each group's kernel chosen for its count.
template <class Rule, int NV>
void run_8x4_group(int nv, const BsrView& a, const int8_t* x, std::ptrdiff_t ldq, const float* xs, float* y,
                   std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  if constexpr (NV > 1) {
    if (nv < NV) return run_8x4_group<Rule, NV - 1>(nv, a, x, ldq, xs, y, ldy, rb_begin, rb_end, accumulate);
  }
  group_8x4<Rule, NV>(a, x, ldq, xs, y, ldy, rb_begin, rb_end, accumulate);
}
template <class Rule>
void many_8x4(const BsrView& a, const int8_t* x, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
              int nvec, int rb_begin, int rb_end, bool accumulate) {
  for (int v = 0; v < nvec; v += kManyGroup) {
    const int nv = nvec - v < kManyGroup ? nvec - v : kManyGroup;
    run_8x4_group<Rule, kManyGroup>(nv, a, x + v * ldq, ldq, xs + v, y + v * ldy, ldy, rb_begin, rb_end, accumulate);
  }
}

template <class Rule, int NP>
void run_4x4_group(int nv, const BsrView& a, const int8_t* xp, std::ptrdiff_t ldp, const float* xs, float* y,
                   std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  if constexpr (NP > 1) {
    if ((nv + 1) / 2 < NP) return run_4x4_group<Rule, NP - 1>(nv, a, xp, ldp, xs, y, ldy, rb_begin, rb_end, accumulate);
  }
  group_4x4<Rule, NP>(a, xp, ldp, nv, xs, y, ldy, rb_begin, rb_end, accumulate);
}
// kFlip is xored into x's bytes as pair_quads lays them out (0x80: int8 codes to xu).
template <class Rule, uint8_t kFlip>
void many_4x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
              int nvec, int rb_begin, int rb_end, bool accumulate) {
  const int quads = a.padded_cols / 4;
  const std::ptrdiff_t ldp = static_cast<std::ptrdiff_t>(quads) * 32;
  const int8_t* xp = pair_quads(xq, ldq, nvec, quads, kFlip);
  for (int v = 0; v < nvec; v += kManyGroup) {
    const int nv = nvec - v < kManyGroup ? nvec - v : kManyGroup;
    run_4x4_group<Rule, kManyGroup / 2>(nv, a, xp + (v / 2) * ldp, ldp, xs + v, y + v * ldy, ldy, rb_begin, rb_end,
                                        accumulate);
  }
}

}  // namespace
}  // namespace sparsewave
