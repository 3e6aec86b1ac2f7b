// What a model family reports about its matrices: the multiply-accumulates
// per generated sample (Model::loop_*_macs) and describe()'s JSON.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "matrix/block_sparse_matrix.h"
#include "matrix/csr_matrix.h"

namespace sparsewave {

// MACs per generated sample over the matrices the sample loop multiplies.
struct LoopMacs {
  int64_t nonzero = 0;  // the floor: nonzero weights
  int64_t stored = 0;   // what the kernels execute: stored block values
  void add(const CsrMatrix& weights, const BlockSparseMatrix& packed) {
    nonzero += weights.nonzeros();
    stored += static_cast<int64_t>(packed.n_values());
  }
};

// One entry of describe()'s "matrices" list: name, shape, block, dtype
// (float32 / float16 / int8), density, stored_values, bytes (what a product
// reads: values, indices and int8 row scales), per_sample.
std::string matrix_json(const std::string& name, const BlockSparseMatrix& m, bool per_sample);

// {"family": ..., "matrices": [...], "loop_nonzero_macs": ..., "loop_stored_macs": ...}
// extra_fields (", \"key\": value" pairs) go before the closing brace.
std::string describe_json(const std::string& family, const std::vector<std::string>& matrices, const LoopMacs& loop,
                          const std::string& extra_fields = "");

}  // namespace sparsewave
