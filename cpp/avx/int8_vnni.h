// int8 block products on the VNNI dot-product instruction (vpdpbusd: four
// unsigned-by-signed byte products summed into each int32 lane, no int16
// step, so no saturation and no pair bound), written once over Dot, the
// instruction's form:
//   int8_vnni_avx2.cpp    AVX-VNNI (VEX, Alder Lake and later, Zen 5)
//   int8_vnni_avx512.cpp  AVX-512 VNNI at 256 bits (EVEX, Ice Lake and later, Zen 4)
//   int8_vnni_emulated.cpp  plain AVX2 with the same bits, for the tests on
//                         machines without VNNI
// Dot::dp(acc, u, s) = acc + per lane sum of u[4i+k] * s[4i+k] (wrapping);
// Dot::dpw(acc, a, b) = acc + per lane a[2i] b[2i] + a[2i+1] b[2i+1] on int16
// (vpdpwssd, for int8a16).
//
// x goes in unsigned: xu = xq + 128 (the pair slots receive it, and the
// table marks them exact for any weights, so BlockSparseMatrix flips x once
// per product; the spmv_i8 slots flip each broadcast, one xor), and
// 128 * row_sum comes off once per row. int32 wraps, so the result is exact for any int8 weights.
// Per 8x4 block: index, broadcast, weight load, one vpdpbusd (AVX2 needs
// eight instructions). Include only from files compiled with -mavx2.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "avx/int8_avx2_ops.h"
#include "avx/int8_many_groups.h"
#include "avx/int8a16_avx.h"
#include "kernels/table.h"

namespace sparsewave {
namespace {

// Signed codes to xu = xq + 128 (the sign bit flipped) where kSigned.
template <bool kSigned>
inline __m256i as_unsigned(__m256i v) {
  return kSigned ? _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))) : v;
}

// x's four bytes at p, broadcast to every lane, as unsigned bytes.
template <bool kSigned>
inline __m256i broadcast_x(const int8_t* p) {
  return as_unsigned<kSigned>(_mm256_set1_epi32(load4(p)));
}

// acc - 128 * row_sum[r0 ..): the offset taken back.
inline __m256i remove_offset(__m256i acc, const int32_t* row_sum, std::ptrdiff_t r0) {
  return _mm256_sub_epi32(acc, _mm256_slli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_sum + r0)), 7));
}
inline __m128i remove_offset(__m128i acc, const int32_t* row_sum, std::ptrdiff_t r0) {
  return _mm_sub_epi32(acc, _mm_slli_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row_sum + r0)), 7));
}

// 8x4 blocks: a block is one 32-byte load (lane r = row r), x's four bytes
// go to every lane, so each lane sums its own row. Two accumulators hide the
// instruction's latency; index and weight pointers run on across rows.
template <class Dot, bool kSigned>
void vnni_8x4(const BsrView& view, const int8_t* x, float x_scale, float* y, int rb_begin, int rb_end,
              bool accumulate) {
  const BsrView a = view;
  const __m256 xs = _mm256_set1_ps(x_scale);
  const int32_t* col = a.col_start + a.row_ptr[rb_begin];
  const __m256i* w = reinterpret_cast<const __m256i*>(a.values_i8) + a.row_ptr[rb_begin];
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    int32_t n = a.row_ptr[rb + 1] - a.row_ptr[rb];
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (; n >= 2; n -= 2, col += 2, w += 2) {
      acc0 = Dot::dp(acc0, broadcast_x<kSigned>(x + col[0]), _mm256_loadu_si256(w));
      acc1 = Dot::dp(acc1, broadcast_x<kSigned>(x + col[1]), _mm256_loadu_si256(w + 1));
    }
    if (n > 0) {
      acc0 = Dot::dp(acc0, broadcast_x<kSigned>(x + col[0]), _mm256_loadu_si256(w));
      ++col, ++w;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 8;
    store8(y + r0, a.row_scale + r0, remove_offset(_mm256_add_epi32(acc0, acc1), a.row_sum, r0), xs, accumulate);
  }
}

// 4x4 blocks: 16 bytes each, two consecutive blocks of a row per 32-byte
// load; the low lanes take the first block's x, the high lanes the second's,
// and the halves are added at the end of the row.
template <class Dot, bool kSigned>
void vnni_4x4(const BsrView& view, const int8_t* x, float x_scale, float* y, int rb_begin, int rb_end,
              bool accumulate) {
  const BsrView a = view;
  const __m128 xs = _mm_set1_ps(x_scale);
  const int32_t* col = a.col_start;
  int32_t k = a.row_ptr[rb_begin];
  auto pair_x = [&](int32_t j) {
    return _mm256_blend_epi32(broadcast_x<kSigned>(x + col[j]), broadcast_x<kSigned>(x + col[j + 1]), 0xF0);
  };
  auto load_w = [&](int32_t j) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.values_i8 + static_cast<std::ptrdiff_t>(j) * 16));
  };
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t end = a.row_ptr[rb + 1];
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (; k + 4 <= end; k += 4) {
      acc0 = Dot::dp(acc0, pair_x(k), load_w(k));
      acc1 = Dot::dp(acc1, pair_x(k + 2), load_w(k + 2));
    }
    if (k + 2 <= end) {
      acc0 = Dot::dp(acc0, pair_x(k), load_w(k));
      k += 2;
    }
    const __m256i acc = _mm256_add_epi32(acc0, acc1);
    __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    if (k < end) {  // a last, odd block: its 16 bytes alone
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.values_i8 + static_cast<std::ptrdiff_t>(k) * 16));
      sum = Dot::dp(sum, _mm256_castsi256_si128(broadcast_x<kSigned>(x + col[k])), w);
      ++k;
    }
    const std::ptrdiff_t r0 = static_cast<std::ptrdiff_t>(rb) * 4;
    store4(y + r0, a.row_scale + r0, remove_offset(sum, a.row_sum, r0), xs, accumulate);
  }
}

// The many-vector kernels' byte rule (int8_many_groups.h): x's bytes flipped
// to xu where kSigned, one vpdpbusd per block and vector, the offset taken
// back per row.
template <class Dot, bool kSigned>
struct VnniBytes {
  static __m256i shared(__m256i w) { return w; }
  static __m256i step(__m256i acc, __m256i, __m256i w, __m256i x) {
    return Dot::dp(acc, as_unsigned<kSigned>(x), w);
  }
  static __m256i finish(__m256i acc, const int32_t* row_sum, std::ptrdiff_t r0) { return remove_offset(acc, row_sum, r0); }
  static __m128i finish(__m128i acc, const int32_t* row_sum, std::ptrdiff_t r0) { return remove_offset(acc, row_sum, r0); }
};

// int8a16's multiply-add as int8a16_avx.h takes it: one vpdpwssd.
template <class Dot>
struct VnniWide {
  static __m256i dp(__m256i acc, __m256i w, __m256i x) { return Dot::dpw(acc, w, x); }
};

// The table `base` with its int8 and int8a16 products (one vector and many)
// on Dot; the quantizers stay base's (AVX2's).
template <class Dot>
KernelTable vnni_table(const KernelTable& base, const char* name) {
  KernelTable t = base;
  t.name = name;
  t.pair_slots_any_weights = true;  // products hand over xu; the signed slots serve direct callers
  t.shape_8x4.spmv_i8 = vnni_8x4<Dot, true>;
  t.shape_4x4.spmv_i8 = vnni_4x4<Dot, true>;
  t.shape_8x4.spmv_i8_pair = on_xu<vnni_8x4<Dot, false>>;
  t.shape_4x4.spmv_i8_pair = on_xu<vnni_4x4<Dot, false>>;
  // Signed codes: each 8x4 broadcast flipped; the 4x4 pair layout built flipped.
  t.shape_8x4.spmv_many_i8 = many_8x4<VnniBytes<Dot, true>>;
  t.shape_4x4.spmv_many_i8 = many_4x4<VnniBytes<Dot, false>, 0x80>;
  t.shape_8x4.spmv_many_i8_pair = on_xu_many<many_8x4<VnniBytes<Dot, false>>>;
  t.shape_4x4.spmv_many_i8_pair = on_xu_many<many_4x4<VnniBytes<Dot, false>, 0>>;
  fill_i8a16_slots<VnniWide<Dot>>(t);
  return t;
}

}  // namespace
}  // namespace sparsewave
