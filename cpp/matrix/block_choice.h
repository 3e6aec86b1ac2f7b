// The one block-shape cost model: which of the kernels' block shapes runs a
// matrix's sparsity pattern fastest. Python's BlockSparseMatrix.from_dense
// (block="auto") and the weight writer call this through _core.
#pragma once
#include "matrix/block_sparse_matrix.h"
#include "matrix/csr_matrix.h"

namespace sparsewave {

// Packs w (rows x cols, row-major) with the shape of least cost
//   stored values * cost per value + 8 * block rows,
// cost per value 1 for 4x4 and 16x1 (near one FMA lane per value), 2 for
// 1x4 (an x load per four weights) and 6 for 1x1 (unstructured CSR pays an
// index and a scalar op); the per-block-row term is each row's loop overhead
// and reduction. Ties go to the earlier of 4x4, 16x1, 1x4, 1x1. weights: f16
// stores the result as float16 (store_half); i8 also weighs the int8 shapes
// 8x4 and 4x4 at their lower cost per value and quantizes the winner when it
// is one of them (16x1, 1x4 and 1x1 stay float32).
BlockSparseMatrix pack_best(const float* w, int rows, int cols, WeightType weights = WeightType::f32);
// The same from a sparse matrix, in time linear in its nonzeros (the result
// equals packing its dense form).
BlockSparseMatrix pack_best(const CsrMatrix& m, WeightType weights = WeightType::f32);

}  // namespace sparsewave
