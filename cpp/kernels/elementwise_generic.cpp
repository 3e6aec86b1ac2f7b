// Element-wise kernels for the generic table: the portable loops of
// kernels/elementwise_impl.h compiled with the baseline flags.
#include "kernels/elementwise.h"
#include "kernels/elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels generic_elementwise() { return elementwise_from_impl(); }
}  // namespace sparsewave
