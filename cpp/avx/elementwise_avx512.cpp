// Element-wise kernels for the avx512 table: the portable loops of
// kernels/elementwise_impl.h compiled with this file's ISA flags.
#include "kernels/elementwise.h"
#include "kernels/elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels avx512_elementwise() { return elementwise_from_impl(); }
}  // namespace sparsewave
