// The "avx2_vnni" table: avx2's, with the single-vector int8 products on
// AVX-VNNI's VEX-encoded vpdpbusd (int8_vnni.h). Compiled with -mavxvnni;
// dispatch.cpp selects it only where CPUID reports AVX-VNNI.
#include "avx/int8_vnni.h"
#include "avx/vnni_tables.h"

namespace sparsewave {
namespace {

struct AvxVnniDot {
  static __m256i dp(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
  static __m256i dpw(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_avx_epi32(acc, a, b); }
  static __m128i dp(__m128i acc, __m128i u, __m128i s) { return _mm_dpbusd_avx_epi32(acc, u, s); }
};

}  // namespace

const KernelTable& avx2_vnni_kernels() {
  static const KernelTable table = vnni_table<AvxVnniDot>(avx2_kernels(), "avx2_vnni");
  return table;
}

}  // namespace sparsewave
