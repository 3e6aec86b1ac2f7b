#include "matrix/csr_matrix.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace sparsewave {

CsrMatrix CsrMatrix::from_dense(const float* w, int rows, int cols) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("matrix shape is negative");
  CsrMatrix m;
  m.rows_ = rows;
  m.cols_ = cols;
  m.row_ptr_.assign(static_cast<std::size_t>(rows) + 1, 0);
  for (int r = 0; r < rows; ++r) {
    const float* row = w + static_cast<std::ptrdiff_t>(r) * cols;
    for (int c = 0; c < cols; ++c)
      if (row[c] != 0.0f) {
        m.col_.push_back(c);
        m.values_.push_back(row[c]);
      }
    m.row_ptr_[static_cast<std::size_t>(r) + 1] = static_cast<int64_t>(m.values_.size());
  }
  return m;
}

CsrMatrix CsrMatrix::from_block_sparse(const BlockSparseMatrix& b) {
  CsrMatrix m;
  m.rows_ = b.rows();
  m.cols_ = b.cols();
  m.row_ptr_.assign(static_cast<std::size_t>(m.rows_) + 1, 0);
  const int br = b.block_rows(), bc = b.block_cols();
  const std::size_t block_size = static_cast<std::size_t>(br) * bc;
  for (int rb = 0; rb < b.n_block_rows(); ++rb)
    for (int r = 0; r < br && rb * br + r < m.rows_; ++r) {
      const int i = rb * br + r;
      // Blocks of a block row have strictly increasing columns, so the row's
      // columns come out sorted.
      for (int32_t k = b.row_ptr()[rb]; k < b.row_ptr()[rb + 1]; ++k)
        for (int c = 0; c < bc; ++c) {
          const int j = b.col_start()[k] + c;
          const float v = b.values()[static_cast<std::size_t>(k) * block_size + static_cast<std::size_t>(r) * bc + c];
          if (j < m.cols_ && v != 0.0f) {
            m.col_.push_back(j);
            m.values_.push_back(v);
          }
        }
      m.row_ptr_[static_cast<std::size_t>(i) + 1] = static_cast<int64_t>(m.values_.size());
    }
  return m;
}

CsrMatrix CsrMatrix::columns(int begin, int end) const {
  if (begin < 0 || end < begin || end > cols_) throw std::invalid_argument("column range outside the matrix");
  CsrMatrix m;
  m.rows_ = rows_;
  m.cols_ = end - begin;
  m.row_ptr_.assign(static_cast<std::size_t>(rows_) + 1, 0);
  for (int r = 0; r < rows_; ++r) {
    const auto first = col_.begin() + row_ptr_[r], last = col_.begin() + row_ptr_[r + 1];
    for (auto it = std::lower_bound(first, last, begin); it != last && *it < end; ++it) {
      m.col_.push_back(*it - begin);
      m.values_.push_back(values_[static_cast<std::size_t>(it - col_.begin())]);
    }
    m.row_ptr_[static_cast<std::size_t>(r) + 1] = static_cast<int64_t>(m.values_.size());
  }
  return m;
}

CsrMatrix CsrMatrix::hstack(const CsrMatrix& left, const CsrMatrix& right) {
  if (left.rows_ != right.rows_) throw std::invalid_argument("hstack of matrices with different row counts");
  if (static_cast<int64_t>(left.cols_) + right.cols_ > INT32_MAX) throw std::invalid_argument("hstack: too many columns");
  CsrMatrix m;
  m.rows_ = left.rows_;
  m.cols_ = left.cols_ + right.cols_;
  m.row_ptr_.assign(static_cast<std::size_t>(m.rows_) + 1, 0);
  for (int r = 0; r < m.rows_; ++r) {
    for (int64_t k = left.row_ptr_[r]; k < left.row_ptr_[r + 1]; ++k) {
      m.col_.push_back(left.col_[k]);
      m.values_.push_back(left.values_[k]);
    }
    for (int64_t k = right.row_ptr_[r]; k < right.row_ptr_[r + 1]; ++k) {
      m.col_.push_back(right.col_[k] + left.cols_);
      m.values_.push_back(right.values_[k]);
    }
    m.row_ptr_[static_cast<std::size_t>(r) + 1] = static_cast<int64_t>(m.values_.size());
  }
  return m;
}

CsrMatrix CsrMatrix::permute_rows(const std::vector<int>& order) const {
  CsrMatrix m;
  m.rows_ = static_cast<int>(order.size());
  m.cols_ = cols_;
  m.row_ptr_.assign(order.size() + 1, 0);
  for (std::size_t r = 0; r < order.size(); ++r) {
    const int src = order[r];
    if (src < 0 || src >= rows_) throw std::invalid_argument("row permutation outside the matrix");
    m.col_.insert(m.col_.end(), col_.begin() + row_ptr_[src], col_.begin() + row_ptr_[src + 1]);
    m.values_.insert(m.values_.end(), values_.begin() + row_ptr_[src], values_.begin() + row_ptr_[src + 1]);
    m.row_ptr_[r + 1] = static_cast<int64_t>(m.values_.size());
  }
  return m;
}

std::vector<float> CsrMatrix::column(int c) const {
  std::vector<float> out(static_cast<std::size_t>(rows_), 0.0f);
  for (int r = 0; r < rows_; ++r) {
    const auto first = col_.begin() + row_ptr_[r], last = col_.begin() + row_ptr_[r + 1];
    const auto it = std::lower_bound(first, last, c);
    if (it != last && *it == c) out[static_cast<std::size_t>(r)] = values_[static_cast<std::size_t>(it - col_.begin())];
  }
  return out;
}

DenseMatrix CsrMatrix::to_dense() const {
  DenseMatrix d;
  d.rows = rows_;
  d.cols = cols_;
  d.v.assign(static_cast<std::size_t>(rows_) * cols_, 0.0f);
  for (int r = 0; r < rows_; ++r)
    for (int64_t k = row_ptr_[r]; k < row_ptr_[r + 1]; ++k)
      d.v[static_cast<std::size_t>(r) * cols_ + col_[k]] = values_[k];
  return d;
}

std::vector<float> CsrMatrix::times(const std::vector<float>& x) const {
  std::vector<float> y(static_cast<std::size_t>(rows_));
  for (int r = 0; r < rows_; ++r) {
    // Zero terms only add zeros: the sum equals the dense one bit for bit.
    double acc = 0;
    for (int64_t k = row_ptr_[r]; k < row_ptr_[r + 1]; ++k) acc += static_cast<double>(values_[k]) * x[col_[k]];
    y[static_cast<std::size_t>(r)] = static_cast<float>(acc);
  }
  return y;
}

BlockSparseMatrix CsrMatrix::to_blocks(int br, int bc) const {
  if (!is_supported_block(br, bc))
    throw std::invalid_argument("unsupported block shape (" + std::to_string(br) + ", " + std::to_string(bc) + ")");
  const int n_block_rows = (rows_ + br - 1) / br;
  std::vector<int32_t> row_ptr(static_cast<std::size_t>(n_block_rows) + 1, 0), block_col;
  std::vector<float> values;
  std::vector<int32_t> here;  // this block row's block columns
  const std::size_t block_size = static_cast<std::size_t>(br) * bc;
  for (int rb = 0; rb < n_block_rows; ++rb) {
    const int r_end = std::min(rows_, (rb + 1) * br);
    here.clear();
    for (int64_t k = row_ptr_[rb * br]; k < row_ptr_[r_end]; ++k) here.push_back(col_[k] / bc);
    std::sort(here.begin(), here.end());
    here.erase(std::unique(here.begin(), here.end()), here.end());
    const std::size_t first = values.size();
    values.resize(first + here.size() * block_size, 0.0f);
    for (int r = rb * br; r < r_end; ++r)
      for (int64_t k = row_ptr_[r]; k < row_ptr_[r + 1]; ++k) {
        const auto b = std::lower_bound(here.begin(), here.end(), col_[k] / bc) - here.begin();
        values[first + static_cast<std::size_t>(b) * block_size + static_cast<std::size_t>(r - rb * br) * bc +
               static_cast<std::size_t>(col_[k] % bc)] = values_[k];
      }
    block_col.insert(block_col.end(), here.begin(), here.end());
    row_ptr[static_cast<std::size_t>(rb) + 1] = static_cast<int32_t>(block_col.size());
  }
  return BlockSparseMatrix::from_packed(rows_, cols_, br, bc, row_ptr, block_col, values.data(), values.size());
}

int64_t product_macs(const CsrMatrix& a, const CsrMatrix& b) {
  if (a.cols() != b.rows()) throw std::invalid_argument("matrix product of mismatched shapes");
  int64_t n = 0;
  for (int64_t k = 0; k < a.nonzeros(); ++k) {
    const int c = a.col_index()[static_cast<std::size_t>(k)];
    n += b.row_begin(c + 1) - b.row_begin(c);
  }
  return n;
}

DenseMatrix dense_product(const CsrMatrix& a, const CsrMatrix& b) {
  if (a.cols() != b.rows()) throw std::invalid_argument("matrix product of mismatched shapes");
  DenseMatrix out;
  out.rows = a.rows();
  out.cols = b.cols();
  out.v.assign(static_cast<std::size_t>(out.rows) * out.cols, 0.0f);
  std::vector<double> acc(static_cast<std::size_t>(out.cols));
  for (int r = 0; r < a.rows(); ++r) {
    if (a.row_begin(r) == a.row_begin(r + 1)) continue;
    std::fill(acc.begin(), acc.end(), 0.0);
    // Each output adds its terms in increasing inner index, as the dense
    // triple loop does; the skipped terms are zeros.
    for (int64_t k = a.row_begin(r); k < a.row_begin(r + 1); ++k) {
      const int c = a.col_index()[static_cast<std::size_t>(k)];
      const double w = a.values()[static_cast<std::size_t>(k)];
      for (int64_t q = b.row_begin(c); q < b.row_begin(c + 1); ++q)
        acc[static_cast<std::size_t>(b.col_index()[static_cast<std::size_t>(q)])] +=
            w * b.values()[static_cast<std::size_t>(q)];
    }
    float* row = out.v.data() + static_cast<std::size_t>(r) * out.cols;
    for (int j = 0; j < out.cols; ++j) row[j] = static_cast<float>(acc[static_cast<std::size_t>(j)]);
  }
  return out;
}

}  // namespace sparsewave
