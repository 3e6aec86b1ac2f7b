// Reading a weight matrix out of a weight file, stored dense or pre-packed
// as block-CSR (the packed form is validated by BlockSparseMatrix).
#pragma once
#include <string>

#include "format/safetensors.h"
#include "matrix/csr_matrix.h"

namespace sparsewave {

// Reads `name` as a (rows, cols) matrix: either a dense F32/F16 tensor, or the
// packed tensors name+".bsr_shape/.bsr_row_ptr/.bsr_block_col/.bsr_values"
// (validated like BlockSparseMatrix::from_packed). rows/cols < 0 match any.
// A packed matrix is never expanded: the result holds only its nonzeros.
CsrMatrix read_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols);

}  // namespace sparsewave
