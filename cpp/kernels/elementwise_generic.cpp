// Element-wise kernels for the generic table: the templates of
// kernels/elementwise_impl.h one lane at a time, with the baseline flags.
#include "kernels/elementwise.h"
#include "kernels/elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels generic_elementwise() { return elementwise_from_impl<ScalarOps>(); }
}  // namespace sparsewave
