// Element-wise kernels for the generic table: the portable loops of
// elementwise_impl.h compiled with this file's ISA flags.
#include "kernels_hook.h"
#include "elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels generic_elementwise() { return {gru_update_impl, sample_softmax_impl, relu_impl}; }
}  // namespace sparsewave
