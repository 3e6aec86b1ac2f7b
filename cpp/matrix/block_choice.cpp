#include "matrix/block_choice.h"

#include <utility>

namespace sparsewave {

namespace {

// The candidate of least cost; pack(br, bc) builds one.
template <class Pack>
BlockSparseMatrix pick_best(Pack pack, bool half) {
  struct Candidate { int br, bc; double cost_per_value; };
  const Candidate candidates[] = {{4, 4, 1.0}, {16, 1, 1.0}, {1, 1, 6.0}};
  BlockSparseMatrix best;
  double best_cost = -1;
  for (const auto& c : candidates) {
    BlockSparseMatrix p = pack(c.br, c.bc);
    const double cost = static_cast<double>(p.nnz_blocks()) * c.br * c.bc * c.cost_per_value + p.n_block_rows() * 8.0;
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = std::move(p);
    }
  }
  if (half) best.store_half();
  return best;
}

}  // namespace

BlockSparseMatrix pack_best(const float* w, int rows, int cols, bool half) {
  return pick_best([&](int br, int bc) { return BlockSparseMatrix::from_dense(w, rows, cols, br, bc); }, half);
}

BlockSparseMatrix pack_best(const CsrMatrix& m, bool half) {
  return pick_best([&](int br, int bc) { return m.to_blocks(br, bc); }, half);
}

}  // namespace sparsewave
