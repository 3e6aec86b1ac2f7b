// Row-compressed sparse float matrix: the load-time form of a weight matrix.
// A matrix stored packed in the weight file stays sparse from file to kernel
// (no dense copy), so the work and memory of a load follow the values the
// file really holds, not the shape its header claims.
#pragma once
#include <cstdint>
#include <vector>

#include "matrix/block_sparse_matrix.h"
#include "matrix/dense_matrix.h"

namespace sparsewave {

class CsrMatrix {
 public:
  CsrMatrix() = default;

  // Keeps the entries that are not zero (+0 or -0).
  static CsrMatrix from_dense(const float* w, int rows, int cols);
  static CsrMatrix from_dense(const DenseMatrix& m) { return from_dense(m.v.data(), m.rows, m.cols); }
  // The nonzero values of a packed matrix, in time linear in its stored values.
  static CsrMatrix from_block_sparse(const BlockSparseMatrix& m);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int64_t nonzeros() const { return static_cast<int64_t>(values_.size()); }
  // Row r holds entries [row_begin(r), row_begin(r + 1)) of col_index() / values().
  int64_t row_begin(int r) const { return row_ptr_[static_cast<std::size_t>(r)]; }
  const std::vector<int32_t>& col_index() const { return col_; }
  const std::vector<float>& values() const { return values_; }

  CsrMatrix columns(int begin, int end) const;  // [begin, end), renumbered from 0
  // [left right]: the columns of `right` after those of `left` (same rows).
  static CsrMatrix hstack(const CsrMatrix& left, const CsrMatrix& right);
  // Row r of the result is row order[r] of this matrix.
  CsrMatrix permute_rows(const std::vector<int>& order) const;
  std::vector<float> column(int c) const;  // dense
  DenseMatrix to_dense() const;

  // y = M x in double, rounded once (load-time composition of matrices).
  std::vector<float> times(const std::vector<float>& x) const;

  // The same matrix in block_rows x block_cols blocks: equal to
  // BlockSparseMatrix::from_dense on to_dense(), without the dense copy.
  BlockSparseMatrix to_blocks(int block_rows, int block_cols) const;

 private:
  int rows_ = 0, cols_ = 0;
  std::vector<int64_t> row_ptr_{0};
  std::vector<int32_t> col_;  // strictly increasing within a row
  std::vector<float> values_;
};

// a * b as a dense (a.rows x b.cols) matrix, accumulated in double and
// rounded once; product_macs counts its multiply-adds (each nonzero a(r, c)
// times the nonzeros of b's row c) so callers can bound the work first.
DenseMatrix dense_product(const CsrMatrix& a, const CsrMatrix& b);
int64_t product_macs(const CsrMatrix& a, const CsrMatrix& b);

}  // namespace sparsewave
