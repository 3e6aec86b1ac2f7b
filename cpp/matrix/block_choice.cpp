#include "matrix/block_choice.h"

#include <utility>

namespace sparsewave {

BlockSparseMatrix pack_best(const float* w, int rows, int cols, bool half) {
  struct Candidate { int br, bc; double cost_per_value; };
  const Candidate candidates[] = {{4, 4, 1.0}, {16, 1, 1.0}, {1, 1, 6.0}};
  BlockSparseMatrix best;
  double best_cost = -1;
  for (const auto& c : candidates) {
    BlockSparseMatrix p = BlockSparseMatrix::from_dense(w, rows, cols, c.br, c.bc);
    const double cost = static_cast<double>(p.nnz_blocks()) * c.br * c.bc * c.cost_per_value + p.n_block_rows() * 8.0;
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = std::move(p);
    }
  }
  if (half) best.store_half();
  return best;
}

BlockSparseMatrix pack_best(const DenseMatrix& m, bool half) { return pack_best(m.v.data(), m.rows, m.cols, half); }

}  // namespace sparsewave
