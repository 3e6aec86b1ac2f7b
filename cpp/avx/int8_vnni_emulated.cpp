// The VNNI kernels (int8_vnni.h) over an exact AVX2 stand-in for vpdpbusd,
// so that machines without VNNI test everything in them but the instruction
// itself. Linked into the tests only; compiled with -mavx2 and no VNNI flag.
#include "avx/int8_vnni.h"
#include "avx/vnni_tables.h"

namespace sparsewave {
namespace {

// Bytes 0 and 2 of each lane as int16 (even), bytes 1 and 3 (odd);
// vpmaddwd then sums u0 s0 + u2 s2 and u1 s1 + u3 s3 exactly (each product
// at most 255 * 128 in size).
struct EmulatedDot {
  static __m256i dp(__m256i acc, __m256i u, __m256i s) {
    const __m256i low_bytes = _mm256_set1_epi16(0x00ff);
    const __m256i even = _mm256_madd_epi16(_mm256_and_si256(u, low_bytes), _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8));
    const __m256i odd = _mm256_madd_epi16(_mm256_srli_epi16(u, 8), _mm256_srai_epi16(s, 8));
    return _mm256_add_epi32(acc, _mm256_add_epi32(even, odd));
  }
  static __m256i dpw(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
  static __m128i dp(__m128i acc, __m128i u, __m128i s) {
    const __m128i low_bytes = _mm_set1_epi16(0x00ff);
    const __m128i even = _mm_madd_epi16(_mm_and_si128(u, low_bytes), _mm_srai_epi16(_mm_slli_epi16(s, 8), 8));
    const __m128i odd = _mm_madd_epi16(_mm_srli_epi16(u, 8), _mm_srai_epi16(s, 8));
    return _mm_add_epi32(acc, _mm_add_epi32(even, odd));
  }
};

}  // namespace

const KernelTable& avx2_vnni_emulated_kernels() {
  static const KernelTable table = vnni_table<EmulatedDot>(avx2_kernels(), "avx2_vnni_emulated");
  return table;
}

}  // namespace sparsewave
