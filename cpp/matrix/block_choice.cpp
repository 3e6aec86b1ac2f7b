#include "matrix/block_choice.h"

#include <utility>

namespace sparsewave {

namespace {

// The candidate of least cost; pack(br, bc) builds one.
template <class Pack>
BlockSparseMatrix pick_best(Pack pack, WeightType weights) {
  struct Candidate { int br, bc; double cost_per_value; bool int8; };
  // float storage: 4x4, 16x1, 1x1. int8 storage: the int8 shapes 8x4 and 4x4
  // (a dot-product instruction per 4 values, about a third of a float FMA
  // lane per value: bench_kernels' int8 rows), and the float 16x1 and 1x1
  // for patterns that blocks of 4 columns would pad too much.
  // 1x4 (a row's four consecutive columns) loads four x values per four
  // weights where 4x4 loads four per sixteen, about three times the
  // instructions per value on AVX2: on geneing's GRU (column groups of four,
  // which 1x4 stores in a third of 4x4's values) the two ran at the same
  // speed, 1x4 with half the bytes. So 1x4 wins only where it stores well
  // under half of what the others would.
  static const Candidate float_candidates[] = {
      {4, 4, 1.0, false}, {16, 1, 1.0, false}, {1, 4, 2.0, false}, {1, 1, 6.0, false}};
  static const Candidate int8_candidates[] = {
      {8, 4, 0.35, true}, {4, 4, 0.4, true}, {16, 1, 1.0, false}, {1, 4, 2.0, false}, {1, 1, 6.0, false}};
  const bool int8 = is_int8(weights);
  BlockSparseMatrix best;
  double best_cost = -1;
  bool best_int8 = false;
  const Candidate* first = int8 ? int8_candidates : float_candidates;
  const int n = int8 ? 5 : 4;
  for (const Candidate* c = first; c < first + n; ++c) {
    BlockSparseMatrix p = pack(c->br, c->bc);
    const double cost = static_cast<double>(p.nnz_blocks()) * c->br * c->bc * c->cost_per_value + p.n_block_rows() * 8.0;
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = std::move(p);
      best_int8 = c->int8;
    }
  }
  if (weights == WeightType::f16) best.store_half();
  if (best_int8) best.store_as(weights);
  return best;
}

}  // namespace

BlockSparseMatrix pack_best(const float* w, int rows, int cols, WeightType weights) {
  return pick_best([&](int br, int bc) { return BlockSparseMatrix::from_dense(w, rows, cols, br, bc); }, weights);
}

BlockSparseMatrix pack_best(const CsrMatrix& m, WeightType weights) {
  return pick_best([&](int br, int bc) { return m.to_blocks(br, bc); }, weights);
}

}  // namespace sparsewave
