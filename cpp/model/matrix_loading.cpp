#include "matrix_loading.h"

#include <algorithm>
#include <stdexcept>

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

DenseMatrix DenseMatrix::rows_range(int begin, int end) const {
  DenseMatrix out;
  out.rows = end - begin;
  out.cols = cols;
  out.v.assign(v.begin() + static_cast<std::ptrdiff_t>(begin) * cols, v.begin() + static_cast<std::ptrdiff_t>(end) * cols);
  return out;
}

int64_t count_nonzero(const DenseMatrix& m) {
  return std::count_if(m.v.begin(), m.v.end(), [](float v) { return v != 0.0f; });
}

bool has_matrix(const SafetensorsFile& file, const std::string& name) {
  return file.has(name) || file.has(name + ".bsr_values");
}

DenseMatrix read_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  DenseMatrix m;
  if (file.has(name)) {
    const TensorInfo& t = file.tensor(name);
    if (t.shape.size() != 2)
      throw std::invalid_argument("tensor '" + name + "' must be 2-D, has shape " + shape_string(t.shape));
    m.v = file.read_f32(name, {rows, cols});
    m.rows = static_cast<int>(t.shape[0]);
    m.cols = static_cast<int>(t.shape[1]);
    return m;
  }
  if (!file.has(name + ".bsr_values")) throw std::invalid_argument("weight file has no matrix '" + name + "'");
  const auto shape = file.read_i32(name + ".bsr_shape", {4});
  if ((rows >= 0 && shape[0] != rows) || (cols >= 0 && shape[1] != cols))
    throw std::invalid_argument("packed matrix '" + name + "' has shape (" + std::to_string(shape[0]) + ", " +
                                std::to_string(shape[1]) + "), expected " + shape_string({rows, cols}));
  const auto row_ptr = file.read_i32(name + ".bsr_row_ptr", {-1});
  const auto block_col = file.read_i32(name + ".bsr_block_col", {-1});
  const auto values = file.read_f32(name + ".bsr_values", {-1, shape[2], shape[3]});
  BlockSparseMatrix packed;
  try {
    packed = BlockSparseMatrix::from_packed(shape[0], shape[1], shape[2], shape[3], row_ptr, block_col,
                                            values.data(), values.size());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("packed matrix '" + name + "': " + e.what());
  }
  m.rows = shape[0];
  m.cols = shape[1];
  m.v.resize(static_cast<std::size_t>(m.rows) * m.cols);
  packed.to_dense(m.v.data());
  return m;
}

BlockSparseMatrix pack_best(const DenseMatrix& m, bool half) {
  // Relative cost per stored value: the 4x4 and 16x1 kernels run near one
  // FMA lane per value; unstructured 1x1 CSR pays an index and a scalar op.
  struct Candidate { int br, bc; double cost_per_value; };
  const Candidate candidates[] = {{4, 4, 1.0}, {16, 1, 1.0}, {1, 1, 6.0}};
  BlockSparseMatrix best;
  double best_cost = -1;
  for (const auto& c : candidates) {
    BlockSparseMatrix p = BlockSparseMatrix::from_dense(m.v.data(), m.rows, m.cols, c.br, c.bc);
    const double cost = static_cast<double>(p.nnz_blocks()) * c.br * c.bc * c.cost_per_value + p.n_block_rows() * 8.0;
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = std::move(p);
    }
  }
  if (half) best.store_half();
  return best;
}

}  // namespace sparsewave
