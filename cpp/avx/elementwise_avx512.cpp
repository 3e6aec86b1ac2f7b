// Element-wise kernels for the avx512 table: the same eight-lane AVX2 + FMA
// operations as the avx2 table (every AVX-512 CPU has them), compiled with
// this file's flags. The element-wise work per sample is a few thousand
// floats, so wider vectors would gain little, and these are the operations
// the tests run on CPUs without AVX-512.
#include "avx/avx2_ops.h"
#include "kernels/elementwise.h"
#include "kernels/elementwise_impl.h"

namespace sparsewave {
ElementwiseKernels avx512_elementwise() { return elementwise_from_impl<Avx2Ops>(); }
}  // namespace sparsewave
