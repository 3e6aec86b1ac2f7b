// int8 block products for many vectors on AVX2 (compiled with -mavx2 -mfma):
// the group kernels of int8_many_groups.h over int8_avx2.cpp's byte rules
// (int8_avx2_ops.h), so every vector's int32 sums are exact and its y equals
// the single-vector kernel's bit for bit.
//
// Why: per vector a block costs only the x broadcast and the rule's multiply
// (offset rule: 4 instructions for 32 MACs; signed: 5, |w| being taken once
// per block for all vectors), while the weight load and the index are
// shared; the single-vector path re-reads every weight per vector.
#include "avx/int8_avx2.h"
#include "avx/int8_avx2_ops.h"
#include "avx/int8_many_groups.h"

namespace sparsewave {

void add_avx2_int8_many_kernels(KernelTable& t) {
  t.shape_8x4.spmv_many_i8 = many_8x4<SignedBytes>;
  t.shape_4x4.spmv_many_i8 = many_4x4<SignedBytes, 0>;
  // The offset rule's x is already xu: pair_quads copies it as it is.
  t.shape_8x4.spmv_many_i8_pair = on_xu_many<many_8x4<OffsetBytes>>;
  t.shape_4x4.spmv_many_i8_pair = on_xu_many<many_4x4<OffsetBytes, 0>>;
}

}  // namespace sparsewave
