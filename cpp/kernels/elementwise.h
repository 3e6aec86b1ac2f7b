// Element-wise kernel slots of a KernelTable: one set per ISA, all built from
// the portable loops in kernels/elementwise_impl.h.
#pragma once

namespace sparsewave {

struct ElementwiseKernels {
  // PyTorch GRU cell update over n entries (gates r, z, n: consecutive blocks
  // of n in gi and gh).
  void (*gru_update)(float* h, const float* gi, const float* gh, int n) = nullptr;
  // Inverse-CDF draw from softmax(logits) with one uniform; scratch: n floats.
  int (*sample_softmax)(const float* logits, int n, float u, float* scratch) = nullptr;
  // y[i] = max(y[i], 0)
  void (*relu)(float* y, int n) = nullptr;
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
