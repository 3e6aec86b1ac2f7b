#include "format/matrix_reader.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "matrix/block_sparse_matrix.h"

namespace sparsewave {

CsrMatrix read_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  if (file.has(name)) {
    const TensorInfo& t = file.tensor(name);
    if (t.shape.size() != 2)
      throw std::invalid_argument("tensor '" + name + "' must be 2-D, has shape " + shape_string(t.shape));
    if (t.shape[0] > INT32_MAX || t.shape[1] > INT32_MAX)
      throw std::invalid_argument("tensor '" + name + "' has shape " + shape_string(t.shape) + ", too large");
    const std::vector<float> v = file.read_f32(name, {rows, cols});
    return CsrMatrix::from_dense(v.data(), static_cast<int>(t.shape[0]), static_cast<int>(t.shape[1]));
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
  return CsrMatrix::from_block_sparse(packed);
}

}  // namespace sparsewave
