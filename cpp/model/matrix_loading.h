// Reading weight matrices out of a weight file: dense or pre-packed block-CSR,
// and picking the block shape that runs a matrix's sparsity pattern fastest.
#pragma once
#include <string>
#include <vector>

#include "../block_sparse_matrix.h"
#include "safetensors.h"

namespace sparsewave {

// Row-major dense float matrix (used while composing/hoisting at load time).
struct DenseMatrix {
  int rows = 0, cols = 0;
  std::vector<float> v;
  float at(int r, int c) const { return v[static_cast<std::size_t>(r) * cols + c]; }
  DenseMatrix columns(int begin, int end) const;  // [begin, end)
  DenseMatrix rows_range(int begin, int end) const;
};

// Reads `name` as a (rows, cols) matrix: either a dense F32/F16 tensor, or the
// packed tensors name+".bsr_shape/.bsr_row_ptr/.bsr_block_col/.bsr_values"
// (validated like BlockSparseMatrix::from_packed). rows/cols < 0 match any.
DenseMatrix read_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols);
bool has_matrix(const SafetensorsFile& file, const std::string& name);

int64_t count_nonzero(const DenseMatrix& m);

// Rounds a vector length up to a multiple of 16: every block shape's padded
// size fits, and loop buffers stay whole AVX-512 registers.
inline int round16(int n) { return (n + 15) / 16 * 16; }

// Packs with the block shape that needs the least work for this pattern:
// stored values weighted by what each kernel costs per value.
BlockSparseMatrix pack_best(const DenseMatrix& m, bool half = false);

}  // namespace sparsewave
