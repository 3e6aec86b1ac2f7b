// Element-wise kernels for the neon table: the portable loops of
// kernels/elementwise_impl.h compiled with this file's ISA flags.
#include "kernels/elementwise.h"
#include "kernels/elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels neon_elementwise() { return elementwise_from_impl(); }
}  // namespace sparsewave
