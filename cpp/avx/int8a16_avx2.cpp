// int8 weights times 16-bit inputs on AVX2 (compiled with -mavx2 -mfma
// -mf16c): the kernels of int8a16_avx.h on vpmaddwd + vpaddd, and the
// 16-bit quantizer.
#include "avx/int8_avx2.h"
#include "avx/int8a16_avx.h"

namespace sparsewave {
namespace {

struct MaddThenAdd {
  static __m256i dp(__m256i acc, __m256i w, __m256i x) { return _mm256_add_epi32(acc, _mm256_madd_epi16(w, x)); }
};

// The generic rule to int16 (kernels/table.h QuantizeI16Fn), eight floats at
// a time: vcvtps2dq rounds half to even like nearbyint, and |x * inv| <=
// qmax, so the saturating pack changes nothing.
float quantize_i16_avx2(const float* x, int n, int16_t* q, int qmax) {
  const AbsMax r = abs_max_avx2(x, n);
  float scale;
  if (quantize_degenerate(r, n, q, &scale)) return scale;
  const float inv = quantize_multiplier(r, qmax);
  const __m256 inv8 = _mm256_set1_ps(inv);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv8));
    const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), inv8));
    // packs works within 128-bit lanes; the permute puts the 16 values back in order.
    const __m256i ab = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), ab);
  }
  quantize_tail(x, i, n, inv, q);
  return quantize_scale(r, qmax);
}

}  // namespace

void add_avx2_int8a16_kernels(KernelTable& t) {
  fill_i8a16_slots<MaddThenAdd>(t);
  t.quantize_i16 = quantize_i16_avx2;
}

}  // namespace sparsewave
