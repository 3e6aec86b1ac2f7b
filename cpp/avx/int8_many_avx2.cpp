// int8 block products for many vectors on AVX2 (compiled with -mavx2 -mfma):
// one pass over the weights serves up to eight vectors, each with its own
// quantized x and scale (Subscale's sub-tensors, batched streams). The byte
// rules are int8_avx2.cpp's (int8_avx2_ops.h), so every vector's int32 sums
// are exact and its y equals the single-vector kernel's bit for bit.
//
// Why: per vector a block costs only the x broadcast and the rule's multiply
// (offset rule: 4 instructions for 32 MACs; signed: 5, |w| being taken once
// per block for all vectors), while the weight load and the index are
// shared; the single-vector path re-reads every weight per vector.
#include "avx/int8_avx2.h"
#include "avx/int8_avx2_ops.h"
#include "matrix/aligned_buffer.h"

namespace sparsewave {
namespace {

constexpr int kGroup = 8;  // vectors per pass: 8 accumulators + weights + temporaries fit 16 registers

// 8x4 blocks: the block's 32 bytes (lane r = row r) are loaded once, and each
// vector's four x bytes broadcast to every lane, so lane r sums row r.
template <class Rule, int NV>
void group_8x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* x_scale, float* y,
               std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const __m256i* w = reinterpret_cast<const __m256i*>(a.values_i8) + a.row_ptr[rb_begin];
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    __m256i acc[NV];
    for (auto& v : acc) v = _mm256_setzero_si256();
    for (int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb]; n > 0; --n, ++col, ++w) {
      const __m256i wv = _mm256_loadu_si256(w), ws = Rule::shared(wv);
      const int8_t* xc = xq + *col;
      for (int v = 0; v < NV; ++v)
        acc[v] = _mm256_add_epi32(acc[v], Rule::dot_shared(ws, wv, _mm256_set1_epi32(load4(xc + v * ldq)), ones16));
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
  const __m256i ones16 = _mm256_set1_epi16(1);
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const __m128i* w = reinterpret_cast<const __m128i*>(a.values_i8) + a.row_ptr[rb_begin];
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    __m256i acc[NP];
    for (auto& v : acc) v = _mm256_setzero_si256();
    for (int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb]; n > 0; --n, ++col, ++w) {
      const __m256i wv = _mm256_broadcastsi128_si256(_mm_loadu_si128(w)), ws = Rule::shared(wv);
      const int8_t* xc = xp + static_cast<std::ptrdiff_t>(*col) * 8;  // (col / 4) * 32
      for (int p = 0; p < NP; ++p)
        acc[p] = _mm256_add_epi32(
            acc[p], Rule::dot_shared(ws, wv, _mm256_load_si256(reinterpret_cast<const __m256i*>(xc + p * ldp)), ones16));
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

template <class Rule, int NV>
void run_8x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
             int nv, int rb_begin, int rb_end, bool accumulate) {
  if constexpr (NV > 1) {
    if (nv < NV) return run_8x4<Rule, NV - 1>(a, xq, ldq, xs, y, ldy, nv, rb_begin, rb_end, accumulate);
  }
  group_8x4<Rule, NV>(a, xq, ldq, xs, y, ldy, rb_begin, rb_end, accumulate);
}

template <class Rule>
void many_8x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
              int nvec, int rb_begin, int rb_end, bool accumulate) {
  for (int v = 0; v < nvec; v += kGroup) {
    const int nv = nvec - v < kGroup ? nvec - v : kGroup;
    run_8x4<Rule, kGroup>(a, xq + v * ldq, ldq, xs + v, y + v * ldy, ldy, nv, rb_begin, rb_end, accumulate);
  }
}

template <class Rule, int NP>
void run_4x4(const BsrView& a, const int8_t* xp, std::ptrdiff_t ldp, int nv, const float* xs, float* y,
             std::ptrdiff_t ldy, int rb_begin, int rb_end, bool accumulate) {
  if constexpr (NP > 1) {
    if ((nv + 1) / 2 < NP) return run_4x4<Rule, NP - 1>(a, xp, ldp, nv, xs, y, ldy, rb_begin, rb_end, accumulate);
  }
  group_4x4<Rule, NP>(a, xp, ldp, nv, xs, y, ldy, rb_begin, rb_end, accumulate);
}

template <class Rule>
void many_4x4(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* xs, float* y, std::ptrdiff_t ldy,
              int nvec, int rb_begin, int rb_end, bool accumulate) {
  // xp: per pair of vectors, per column quad, [first's 4 bytes x 4 | second's 4 bytes x 4]
  // (an odd last vector is paired with itself; its high half is not stored).
  const int quads = a.padded_cols / 4, pairs = (nvec + 1) / 2;
  const std::ptrdiff_t ldp = static_cast<std::ptrdiff_t>(quads) * 32;
  thread_local AlignedVector<int8_t> buf;
  if (buf.size() < static_cast<std::size_t>(pairs * ldp)) buf.resize(static_cast<std::size_t>(pairs * ldp));
  for (int p = 0; p < pairs; ++p) {
    const int8_t* lo = xq + 2 * p * ldq;
    const int8_t* hi = 2 * p + 1 < nvec ? lo + ldq : lo;
    for (int q = 0; q < quads; ++q)
      _mm256_store_si256(reinterpret_cast<__m256i*>(buf.data() + p * ldp + q * 32),
                         _mm256_setr_epi32(load4(lo + 4 * q), load4(lo + 4 * q), load4(lo + 4 * q), load4(lo + 4 * q),
                                           load4(hi + 4 * q), load4(hi + 4 * q), load4(hi + 4 * q), load4(hi + 4 * q)));
  }
  constexpr int kPairs = kGroup / 2;
  for (int v = 0; v < nvec; v += kGroup) {
    const int nv = nvec - v < kGroup ? nvec - v : kGroup;
    run_4x4<Rule, kPairs>(a, buf.data() + (v / 2) * ldp, ldp, nv, xs + v, y + v * ldy, ldy, rb_begin, rb_end,
                          accumulate);
  }
}

// The pair slots take xu (unsigned bytes); load4 reads the same bits.
template <void (*Kernel)(const BsrView&, const int8_t*, std::ptrdiff_t, const float*, float*, std::ptrdiff_t, int,
                         int, int, bool)>
void on_offset_bytes(const BsrView& a, const uint8_t* xu, std::ptrdiff_t ldq, const float* xs, float* y,
                     std::ptrdiff_t ldy, int nvec, int rb_begin, int rb_end, bool accumulate) {
  Kernel(a, reinterpret_cast<const int8_t*>(xu), ldq, xs, y, ldy, nvec, rb_begin, rb_end, accumulate);
}

}  // namespace

void add_avx2_int8_many_kernels(KernelTable& t) {
  t.shape_8x4.spmv_many_i8 = many_8x4<SignedBytes>;
  t.shape_4x4.spmv_many_i8 = many_4x4<SignedBytes>;
  t.shape_8x4.spmv_many_i8_pair = on_offset_bytes<many_8x4<OffsetBytes>>;
  t.shape_4x4.spmv_many_i8_pair = on_offset_bytes<many_4x4<OffsetBytes>>;
}

}  // namespace sparsewave
