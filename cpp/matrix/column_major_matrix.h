// A dense matrix stored column by column, so that A x is a weighted sum of
// its columns: the conditioning network's per-frame products run on the
// active ISA's vector kernels (a row-major dot product per output does not
// vectorise without reassociating the sum).
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/dispatch.h"
#include "matrix/dense_matrix.h"

namespace sparsewave {

struct ColumnMajorMatrix {
  int rows = 0, cols = 0;
  std::vector<float> v;  // column j at v[j * rows, (j + 1) * rows)

  static ColumnMajorMatrix from(const DenseMatrix& m) {
    ColumnMajorMatrix c;
    c.rows = m.rows;
    c.cols = m.cols;
    c.v.resize(m.v.size());
    for (int r = 0; r < m.rows; ++r)
      for (int j = 0; j < m.cols; ++j) c.v[static_cast<std::size_t>(j) * m.rows + r] = m.at(r, j);
    return c;
  }

  // y[0:rows] = bias + A x (bias null: 0), the products added in column
  // order, as a row-major dot product from the bias would add them.
  void times(const float* x, const float* bias, float* y) const {
    const ElementwiseKernels& k = active_kernels().elementwise;
    constexpr int kGroup = 8;
    const float* group[kGroup];
    bool accumulate = bias != nullptr;
    if (bias) std::copy_n(bias, rows, y);
    for (int j0 = 0; j0 < cols; j0 += kGroup) {
      const int m = std::min(kGroup, cols - j0);
      for (int j = 0; j < m; ++j) group[j] = v.data() + static_cast<std::size_t>(j0 + j) * rows;
      k.weighted_sum(y, rows, group, x + j0, m, accumulate);
      accumulate = true;
    }
    if (!accumulate) std::fill_n(y, rows, 0.0f);
  }
};

}  // namespace sparsewave
