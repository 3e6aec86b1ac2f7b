// Which matrix the sample loop multiplies for a weight-file matrix: the int8
// form the file stores, or one packed at load (matrix/block_choice.h).
#pragma once
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "format/matrix_reader.h"
#include "matrix/block_choice.h"
#include "model/model.h"

namespace sparsewave {

// The storage the per-sample matrices run in: options.weights, or when it is
// unset, int8 for a file that stores int8 matrices and float32 otherwise.
inline WeightType loop_weight_type(const LoadOptions& options, const SafetensorsFile& file) {
  if (options.weights) return *options.weights;
  return file.has_suffix(".i8_values") ? WeightType::i8 : WeightType::f32;
}

// The storage each per-sample matrix runs in: loop_weight_type for all,
// except those options.float_matrices names (in full or by a dotted prefix,
// "fc3" for "fc3.weight") keep float32. Every matrix a
// model loads through of() is recorded, so check_names() can refuse a name
// that matched none of them (a typo must not leave a layer in int8 silently).
class LoopPrecision {
 public:
  LoopPrecision(const LoadOptions& options, const SafetensorsFile& file)
      : all_(loop_weight_type(options, file)), float_(options.float_matrices) {}
  WeightType of(const std::string& name) {
    seen_.push_back(name);
    for (const std::string& n : float_)
      if (selects(n, name)) return WeightType::f32;
    return all_;
  }
  void check_names() const {
    for (const std::string& n : float_) {
      if (std::any_of(seen_.begin(), seen_.end(), [&](const std::string& s) { return selects(n, s); })) continue;
      std::string known;
      for (const std::string& s : seen_) known += (known.empty() ? "" : ", ") + s;
      throw std::invalid_argument("float_matrices: '" + n + "' is not one of this model's per-sample matrices (" +
                                  known + ")");
    }
  }

 private:
  // A listed name selects a matrix by its full name or a dotted prefix ("fc3" for "fc3.weight").
  static bool selects(const std::string& listed, const std::string& name) {
    return name == listed || (name.size() > listed.size() && name.compare(0, listed.size(), listed) == 0 &&
                              name[listed.size()] == '.');
  }
  WeightType all_;
  std::vector<std::string> float_;
  std::vector<std::string> seen_;
};

struct LoopMatrix {
  BlockSparseMatrix packed;  // what the sample loop multiplies
  CsrMatrix weights;         // the same weights for the rest of the model (dequantized when int8)
};

// Columns [0, cols) of m as the per-sample product stored as `weights`.
// An int8 file matrix must quantize exactly those columns; with int8 weights
// it runs as stored, otherwise its dequantized weights are packed like floats.
// Where an int8 matrix runs, `weights` holds its dequantized values, so every
// other use of the matrix (hoisted terms, load-time compositions) sees the
// same weights whether the file or the load quantized them.
inline LoopMatrix loop_matrix(const FileMatrix& m, const std::string& name, int cols, WeightType weights) {
  LoopMatrix out;
  out.weights = cols == m.values.cols() ? m.values : m.values.columns(0, cols);
  if (m.int8_cols > 0 && m.int8_cols != cols)
    throw std::invalid_argument("int8 matrix '" + name + "' quantizes its first " + std::to_string(m.int8_cols) +
                                " columns, but the sample loop multiplies the first " + std::to_string(cols) +
                                " (docs/format.md, 'int8 matrices')");
  if (m.int8_cols > 0 && is_int8(weights)) {
    out.packed = m.int8;
    if (weights == WeightType::i8a16) out.packed.use_wide_inputs();
    return out;
  }
  out.packed = pack_best(out.weights, weights);
  if (out.packed.int8()) out.weights = CsrMatrix::from_block_sparse(out.packed);
  return out;
}

}  // namespace sparsewave
