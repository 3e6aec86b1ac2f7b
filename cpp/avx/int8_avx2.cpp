// int8 block products on AVX2 (compiled with -mavx2 -mfma -mf16c).
//
// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16
// with saturation. With |x| on the unsigned side and the weight given x's
// sign (vpsignb) on the signed side, each pair is at most 2 * 127 * 127 =
// 32258 < 32767: the int16 sums are exact, and vpmaddwd by ones widens them
// to int32. Every result equals the generic int32 reference bit for bit.
//
// Pair-bounded matrices (|w[2i]| + |w[2i+1]| <= 128, checked at store) take
// the _pair kernels instead: x offset to xu = xq + 128 in [1, 255] is the
// unsigned side as is, each pair is at most 255 * 128 = 32640, and the
// offset comes back once per row as 128 * row_sum. No abs or sign per block.
#include "avx/int8_avx2.h"
#include "avx/int8_avx2_ops.h"

namespace sparsewave {
namespace {

// 8x4 blocks: one 32-byte load is a whole block, lane r holding row r's four
// weights, and x's four bytes are broadcast to every lane, so each lane sums
// its own row: no reduction at the end of a block row. Four blocks a step,
// added as a tree into one accumulator: with four accumulators GCC spent a
// register move per block. The index and weight pointers run on across rows
// (one index stream, one advancing weight pointer). Per block: index,
// broadcast, load, the rule's multiply (signed: abs, sign and two
// instructions, eight in all, bound by issue width, and a table of |x|
// instead of the abs measured the same; offset: five in all), add.
template <class Rule>
void spmv_i8_8x4(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                 bool accumulate) {
  const BsrView a = view;
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256 xs = _mm256_set1_ps(x_scale);
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const __m256i* w = reinterpret_cast<const __m256i*>(a.values_i8) + a.row_ptr[rb_begin];
  auto block = [&](int i) {
    return Rule::dot(_mm256_loadu_si256(w + i), _mm256_set1_epi32(load4(xq + col[i])), ones16);
  };
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb];
    __m256i acc = _mm256_setzero_si256();
    for (; n >= 4; n -= 4, col += 4, w += 4)
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_add_epi32(block(0), block(1)),
                                                   _mm256_add_epi32(block(2), block(3))));
    for (; n > 0; --n, ++col, ++w) acc = _mm256_add_epi32(acc, block(0));
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    store8(y + r0, a.row_scale + r0, Rule::finish(acc, a.row_sum, r0), xs, accumulate);
  }
}

// 4x4 blocks: 16 bytes each, so two consecutive blocks of a row share one
// 32-byte load; the low lanes take the first block's x, the high lanes the
// second's, and the halves are added at the end of the row. Four blocks a
// step into one accumulator (with two, GCC spent two register moves a step;
// with one it still spends one).
template <class Rule>
void spmv_i8_4x4(const BsrView& view, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                 bool accumulate) {
  const BsrView a = view;
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m128 xs = _mm_set1_ps(x_scale);
  const int32_t* col = a.col_start;
  int32_t k = a.row_ptr[rb_begin];
  auto pair_x = [&](int32_t j) {  // the low lanes take block j's x, the high lanes block j + 1's
    return _mm256_blend_epi32(_mm256_set1_epi32(load4(xq + col[j])), _mm256_set1_epi32(load4(xq + col[j + 1])), 0xF0);
  };
  auto load_w = [&](int32_t j) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.values_i8 + static_cast<std::ptrdiff_t>(j) * 16));
  };
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t end = a.row_ptr[rb + 1];
    __m256i acc = _mm256_setzero_si256();
    for (; k + 4 <= end; k += 4)
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(Rule::dot(load_w(k), pair_x(k), ones16),
                                                   Rule::dot(load_w(k + 2), pair_x(k + 2), ones16)));
    if (k + 2 <= end) {
      acc = _mm256_add_epi32(acc, Rule::dot(load_w(k), pair_x(k), ones16));
      k += 2;
    }
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (k < end) {  // a last, odd block: its 16 bytes alone
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.values_i8 + static_cast<std::ptrdiff_t>(k) * 16));
      sum = _mm_add_epi32(sum, Rule::dot(w, _mm_set1_epi32(load4(xq + col[k])), _mm_set1_epi16(1)));
      ++k;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    store4(y + r0, a.row_scale + r0, Rule::finish(sum, a.row_sum, r0), xs, accumulate);
  }
}

// The generic rule (kernels/table.h QuantizeFn) eight floats at a time:
// vcvtps2dq rounds half to even under the default MXCSR, like nearbyint.
float quantize_avx2(const float* x, int n, int8_t* q) {
  const AbsMax r = abs_max_avx2(x, n);
  float scale;
  if (quantize_degenerate(r, n, q, &scale)) return scale;
  const float inv = quantize_multiplier(r);
  const __m256 inv8 = _mm256_set1_ps(inv);
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv8));
    const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), inv8));
    const __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), inv8));
    const __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), inv8));
    // packs work within 128-bit lanes; the permute puts the 32 bytes back in order.
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i bytes = _mm256_packs_epi16(ab, cd);
    const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), ordered);
  }
  quantize_tail(x, i, n, inv, q);
  return quantize_scale(r);
}

}  // namespace

void add_avx2_int8_kernels(KernelTable& t) {
  t.shape_8x4.spmv_i8 = spmv_i8_8x4<SignedBytes>;
  t.shape_4x4.spmv_i8 = spmv_i8_4x4<SignedBytes>;
  t.shape_8x4.spmv_i8_pair = on_xu<spmv_i8_8x4<OffsetBytes>>;
  t.shape_4x4.spmv_i8_pair = on_xu<spmv_i8_4x4<OffsetBytes>>;
  t.quantize = quantize_avx2;
}

}  // namespace sparsewave
