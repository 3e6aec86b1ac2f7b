// Element-wise kernels for the neon table: the templates of
// kernels/elementwise_impl.h over four-lane NEON operations.
#include "kernels/elementwise.h"
#include "kernels/elementwise_impl.h"
#include "neon/neon_ops.h"

namespace sparsewave {
ElementwiseKernels neon_elementwise() { return elementwise_from_impl<NeonOps>(); }
}  // namespace sparsewave
