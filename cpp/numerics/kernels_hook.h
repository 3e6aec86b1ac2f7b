// Element-wise kernel entry points, one set per ISA (see elementwise_impl.h).
#pragma once

namespace sparsewave {

struct ElementwiseKernels {
  void (*gru_update)(float* h, const float* gi, const float* gh, int n);
  int (*sample_softmax)(const float* logits, int n, float u, float* scratch);
  void (*relu)(float* y, int n);
};

ElementwiseKernels generic_elementwise();
#if defined(SPARSEWAVE_HAVE_AVX2)
ElementwiseKernels avx2_elementwise();
#endif
#if defined(SPARSEWAVE_HAVE_AVX512)
ElementwiseKernels avx512_elementwise();
#endif
#if defined(SPARSEWAVE_HAVE_NEON)
ElementwiseKernels neon_elementwise();
#endif

}  // namespace sparsewave
