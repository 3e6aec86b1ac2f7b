// Row-major dense float matrix: what the weight file yields and the model
// families compose and hoist at load time, before packing (block_choice.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sparsewave {

struct DenseMatrix {
  int rows = 0, cols = 0;
  std::vector<float> v;
  float at(int r, int c) const { return v[static_cast<std::size_t>(r) * cols + c]; }
  DenseMatrix columns(int begin, int end) const;  // [begin, end)
};

int64_t count_nonzero(const DenseMatrix& m);

}  // namespace sparsewave
