// Reading a weight matrix out of a weight file, stored dense, pre-packed as
// block-CSR, or as int8 block-CSR with per-row scales (docs/format.md). The
// packed forms are validated by BlockSparseMatrix.
#pragma once
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "matrix/block_sparse_matrix.h"
#include "matrix/csr_matrix.h"

namespace sparsewave {

// A weight matrix as the file stores it.
struct FileMatrix {
  CsrMatrix values;        // every weight; int8 ones dequantized (value * row scale)
  BlockSparseMatrix int8;  // int8 form only: columns [0, int8_cols) exactly as stored
  int int8_cols = 0;       // 0: the file stores floats
};

// Reads `name` as a (rows, cols) matrix: a dense F32/F16 tensor; the packed
// tensors name+".bsr_shape/.bsr_row_ptr/.bsr_block_col/.bsr_values"; or the
// int8 tensors name+".i8_shape/.i8_row_ptr/.i8_block_col/.i8_values/.i8_scale"
// for its first columns, the rest as the float matrix name+".i8_tail".
// rows/cols < 0 match any. A packed matrix is never expanded: the result
// holds only its nonzeros. Throws std::invalid_argument naming the tensor.
FileMatrix read_file_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols);

// The weights alone (read_file_matrix(...).values).
CsrMatrix read_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols);

// The same matrix with its rows reordered (row r of the result is row
// order[r]); the int8 form survives when the order moves whole block rows,
// else only the dequantized values remain (int8_cols 0).
FileMatrix permute_rows(const FileMatrix& m, const std::vector<int>& order);

}  // namespace sparsewave
