// Element-wise kernels for the avx2 table: the templates of
// kernels/elementwise_impl.h over eight-lane AVX2 + FMA operations.
#include "avx/avx2_ops.h"
#include "kernels/elementwise.h"
#include "kernels/elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels avx2_elementwise() { return elementwise_from_impl<Avx2Ops>(); }
}  // namespace sparsewave
