// Non-owning view of a block-CSR matrix: what every kernel consumes.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sparsewave {

// Blocks are stored row-major inside each block, blocks of one block-row are
// contiguous, and col_start holds the first *element* column of each block
// (not the block number) so kernels index x without a multiply.
struct BsrView {
  int block_rows = 0;        // 4, 8, 16 or 1
  int block_cols = 0;        // 4, 4, 1 or 1
  int n_block_rows = 0;      // padded_rows / block_rows
  int padded_cols = 0;       // x must have this many readable floats
  const int32_t* row_ptr = nullptr;    // n_block_rows + 1 entries
  const int32_t* col_start = nullptr;  // one per stored block
  const float* values = nullptr;       // block_rows*block_cols per block
  // The same values as IEEE float16, when the matrix stores half precision
  // (half the bytes per weight); null otherwise.
  const uint16_t* values_f16 = nullptr;
  // int8 storage (BlockSparseMatrix::store_int8): weights in [-127, 127],
  // row r's real weights being values_i8 * row_scale[r]; row_sum[r] is the
  // sum of row r's int8 weights (kernels on unsigned-by-signed instructions
  // offset x by 128 and take 128 * row_sum back). Both indexed by padded
  // row. Null for float matrices.
  const int8_t* values_i8 = nullptr;
  const float* row_scale = nullptr;
  const int32_t* row_sum = nullptr;
};

}  // namespace sparsewave
