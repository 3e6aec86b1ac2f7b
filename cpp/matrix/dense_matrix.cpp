#include "matrix/dense_matrix.h"

#include <algorithm>

namespace sparsewave {

DenseMatrix DenseMatrix::columns(int begin, int end) const {
  DenseMatrix out;
  out.rows = rows;
  out.cols = end - begin;
  out.v.resize(static_cast<std::size_t>(out.rows) * out.cols);
  for (int r = 0; r < rows; ++r)
    for (int c = begin; c < end; ++c) out.v[static_cast<std::size_t>(r) * out.cols + (c - begin)] = at(r, c);
  return out;
}

int64_t count_nonzero(const DenseMatrix& m) {
  return std::count_if(m.v.begin(), m.v.end(), [](float v) { return v != 0.0f; });
}

}  // namespace sparsewave
