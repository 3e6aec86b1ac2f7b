// Row-major dense float matrix: the conditioning network's convolutions and
// the tables model families precompute at load (matrices the sample loop
// multiplies are read sparse, csr_matrix.h, and packed, block_choice.h).
#pragma once
#include <cstddef>
#include <vector>

namespace sparsewave {

struct DenseMatrix {
  int rows = 0, cols = 0;
  std::vector<float> v;
  float at(int r, int c) const { return v[static_cast<std::size_t>(r) * cols + c]; }
};

}  // namespace sparsewave
