// Element-wise kernel slots of a KernelTable: one set per ISA, all built from
// the templates in kernels/elementwise_impl.h over that ISA's vector
// operations.
#pragma once

namespace sparsewave {

// Classes whose logit is more than this below the largest count as
// probability 0: each exp would be under e^-40 (4e-18) of the largest, so
// even 2^20 of them stay far below float32 resolution of the total. It is
// sample_softmax's widest cut: no tail cut a float could see.
constexpr float kNegligibleLogit = 40.0f;

struct ElementwiseKernels {
  // PyTorch GRU cell update over n entries (gates r, z, n: consecutive blocks
  // of n in gi and gh). bh, when not null, is the hidden side's bias (3n),
  // added to gh first: r = sigmoid(gi_r + (gh_r + bh_r)), and so on.
  void (*gru_update)(float* h, const float* gi, const float* gh, const float* bh, int n) = nullptr;
  // Inverse-CDF draw with one uniform from softmax(logits) over the classes
  // whose logit is at least (largest - cut), cut in (0, kNegligibleLogit]:
  // the tail cut (model/sampling_config.h). scratch: n floats.
  int (*sample_softmax)(const float* logits, int n, float u, float cut, float* scratch) = nullptr;
  // y[i] = max(y[i], 0)
  void (*relu)(float* y, int n) = nullptr;
  // y[i] = (accumulate ? y[i] : 0) + w[0] x[0][i] + ... + w[k-1] x[k-1][i],
  // the terms added in that order (each a fused multiply-add where the ISA
  // has one). y may not overlap any x[j].
  void (*weighted_sum)(float* y, int n, const float* const* x, const float* w, int k, bool accumulate) = nullptr;
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
