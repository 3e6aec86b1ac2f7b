// Element-wise kernels for the avx2 table: the portable loops of
// elementwise_impl.h compiled with this file's ISA flags.
#include "../numerics/kernels_hook.h"
#include "../numerics/elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels avx2_elementwise() { return {gru_update_impl, sample_softmax_impl, relu_impl}; }
}  // namespace sparsewave
