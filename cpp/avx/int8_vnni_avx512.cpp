// The "avx512_vnni" table: avx512's, with the single-vector int8 products on
// AVX-512 VNNI's vpdpbusd at 256 bits (EVEX, needs AVX512VL; int8_vnni.h).
// Compiled with -mavx512vnni -mavx512vl; dispatch.cpp selects it only where
// CPUID reports both.
#include "avx/int8_vnni.h"
#include "avx/vnni_tables.h"

namespace sparsewave {
namespace {

struct Avx512VnniDot {
  static __m256i dp(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
  static __m256i dpw(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
  static __m128i dp(__m128i acc, __m128i u, __m128i s) { return _mm_dpbusd_epi32(acc, u, s); }
};

}  // namespace

const KernelTable& avx512_vnni_kernels() {
  static const KernelTable table = vnni_table<Avx512VnniDot>(avx512_kernels(), "avx512_vnni");
  return table;
}

}  // namespace sparsewave
