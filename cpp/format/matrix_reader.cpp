#include "format/matrix_reader.h"

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace sparsewave {

namespace {

// Trained weights stay far below this (safetensors.cpp refuses float tensors
// above it): an int8 row's largest weight is 127 * its scale.
constexpr float kMaxWeightMagnitude = 1e6f;

std::string shape_error(const std::string& what, const std::string& name, int64_t got_rows, int64_t got_cols, int rows,
                        int cols) {
  return what + " '" + name + "' has shape (" + std::to_string(got_rows) + ", " + std::to_string(got_cols) +
         "), expected " + shape_string({rows, cols});
}

CsrMatrix read_dense(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  const TensorInfo& t = file.tensor(name);
  if (t.shape.size() != 2)
    throw std::invalid_argument("tensor '" + name + "' must be 2-D, has shape " + shape_string(t.shape));
  if (t.shape[0] > INT32_MAX || t.shape[1] > INT32_MAX)
    throw std::invalid_argument("tensor '" + name + "' has shape " + shape_string(t.shape) + ", too large");
  const std::vector<float> v = file.read_f32(name, {rows, cols});
  return CsrMatrix::from_dense(v.data(), static_cast<int>(t.shape[0]), static_cast<int>(t.shape[1]));
}

CsrMatrix read_bsr(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  const auto shape = file.read_i32(name + ".bsr_shape", {4});
  if ((rows >= 0 && shape[0] != rows) || (cols >= 0 && shape[1] != cols))
    throw std::invalid_argument(shape_error("packed matrix", name, shape[0], shape[1], rows, cols));
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

// A float matrix, dense (which wins, as it always has) or packed.
CsrMatrix read_float(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  if (file.has(name)) return read_dense(file, name, rows, cols);
  if (file.has(name + ".bsr_values")) return read_bsr(file, name, rows, cols);
  throw std::invalid_argument("weight file has no matrix '" + name + "'");
}

FileMatrix read_int8(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  const auto shape = file.read_i32(name + ".i8_shape", {4});
  // The int8 part covers columns [0, shape[1]); the rest is name.i8_tail.
  if ((rows >= 0 && shape[0] != rows) || shape[1] < 1 || (cols >= 0 && shape[1] > cols))
    throw std::invalid_argument("int8 matrix '" + name + "' has shape (" + std::to_string(shape[0]) + ", " +
                                std::to_string(shape[1]) + "), expected " + std::to_string(rows) +
                                " rows and 1.." + std::to_string(cols) + " int8 columns");
  const auto row_ptr = file.read_i32(name + ".i8_row_ptr", {-1});
  const auto block_col = file.read_i32(name + ".i8_block_col", {-1});
  const auto values = file.read_i8(name + ".i8_values", {-1, shape[2], shape[3]});
  const std::string scale_name = name + ".i8_scale";
  if (file.tensor(scale_name).dtype != DType::F32)
    throw std::invalid_argument("tensor '" + scale_name + "' must be F32");
  const auto scale = file.read_f32(scale_name, {-1});  // finite, |s| <= 1e6
  FileMatrix m;
  try {
    m.int8 = BlockSparseMatrix::from_packed_int8(shape[0], shape[1], shape[2], shape[3], row_ptr, block_col,
                                                 values.data(), values.size(), scale.data(), scale.size());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("int8 matrix '" + name + "': " + e.what());
  }
  for (std::size_t r = 0; r < scale.size(); ++r)
    if (127.0f * scale[r] > kMaxWeightMagnitude) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(scale[r]));
      throw std::invalid_argument("int8 matrix '" + name + "': row scale " + std::to_string(r) + " (" + buf +
                                  ") allows weights above 1e6 (127 x scale); such magnitudes are refused "
                                  "(docs/format.md)");
    }
  m.int8_cols = shape[1];
  m.values = CsrMatrix::from_block_sparse(m.int8);
  if (cols >= 0 && shape[1] < cols)
    m.values = CsrMatrix::hstack(m.values, read_float(file, name + ".i8_tail", shape[0], cols - shape[1]));
  else if (file.has(name + ".i8_tail") || file.has(name + ".i8_tail.bsr_values"))
    throw std::invalid_argument("int8 matrix '" + name + "' covers every column but the file also has '" + name +
                                ".i8_tail'");
  return m;
}

}  // namespace

FileMatrix read_file_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  const bool int8 = file.has(name + ".i8_values");
  if (int8 && (file.has(name) || file.has(name + ".bsr_values")))
    throw std::invalid_argument("matrix '" + name + "' is stored both as int8 and as floats");
  if (int8) return read_int8(file, name, rows, cols);
  FileMatrix m;
  m.values = read_float(file, name, rows, cols);
  return m;
}

CsrMatrix read_matrix(const SafetensorsFile& file, const std::string& name, int rows, int cols) {
  return read_file_matrix(file, name, rows, cols).values;
}

FileMatrix permute_rows(const FileMatrix& m, const std::vector<int>& order) {
  FileMatrix out;
  out.values = m.values.permute_rows(order);
  if (m.int8_cols == 0) return out;
  // Whole block rows move when each block row's rows come from one aligned block row, in order.
  const int br = m.int8.block_rows();
  const int n = static_cast<int>(order.size());
  if (n % br != 0 || n != m.int8.rows()) return out;
  std::vector<int> blocks(static_cast<std::size_t>(n / br));
  for (int b = 0; b < n / br; ++b) {
    const int first = order[static_cast<std::size_t>(b) * br];
    if (first % br != 0) return out;
    for (int i = 1; i < br; ++i)
      if (order[static_cast<std::size_t>(b) * br + i] != first + i) return out;
    blocks[static_cast<std::size_t>(b)] = first / br;
  }
  out.int8 = m.int8.permute_block_rows(blocks);
  out.int8_cols = m.int8_cols;
  return out;
}

}  // namespace sparsewave
