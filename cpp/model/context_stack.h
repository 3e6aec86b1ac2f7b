// Subscale WaveRNN's context network (docs/subscale.md): a causal dilated
// conv stack over the skewed grid's step columns, shared by all sub-tensors
// and evaluated incrementally. Each step pushes the column it generated; the
// stack keeps, per layer l, the last 2^l columns its dilated tap reads.
#pragma once
#include <cstdint>
#include <vector>

#include "format/safetensors.h"
#include "matrix/aligned_buffer.h"
#include "matrix/block_sparse_matrix.h"
#include "model/subscale_config.h"

namespace sparsewave {

class ContextStack {
 public:
  ContextStack() = default;
  ContextStack(const SafetensorsFile& file, const SubscaleConfig& config);

  struct State {
    int64_t columns = 0;                      // columns pushed so far
    std::vector<AlignedVector<float>> rings;  // layer l: e_l of the last 2^l columns (slot = column mod 2^l)
    AlignedVector<float> x, e, y, top;        // padded scratch; top = e_D of the last column (0 before any)
  };
  State start() const;

  // Adds column z (B values: what each sub-tensor generated at this step, 0
  // where it was not active).
  void push(State& state, const float* z) const;
  // g = relu(ctx.out.weight top + ctx.out.bias): G * E values, group g's at g * E
  // (G = B groups of one sub-tensor; B / 2 pairs when fused).
  void features(State& state, float* g) const;

  int64_t macs_per_step() const;  // push + features

 private:
  int sub_tensors_ = 0, channels_ = 0, layers_ = 0, features_ = 0, groups_ = 0;
  BlockSparseMatrix in_, out_;
  std::vector<BlockSparseMatrix> conv_;  // layer l: C x 2C on [e_l(column - 2^l); e_l(column)]
  std::vector<float> in_bias_, out_bias_;
  std::vector<std::vector<float>> conv_bias_;
};

}  // namespace sparsewave
